"""What torchvet gets wrong today, case by case: the lead's work list for issue 8.

Each entry marks a red-team test ``xfail(strict=True)``; when a fix lands the test
passes, strict xfail turns that into a failure, and the entry is removed. Regenerate
the lists with ``python benchmarks/redteam.py --seeded --known-misses``.
"""

from __future__ import annotations

# Executed by some real loader, rated anything but unknown/dangerous by torchvet scan.
SCAN: dict[str, str] = {
    "check-by-content/data-csv-tar-header-polyglot/helper": "issue 8 class 6: a crafted pickle named like text, found by torchvet check; unsupported although pickle.load, load_all, pickle.py run it",
    "check-by-content/notes-txt-pe-polyglot/system": "issue 8 class 6: a crafted pickle named like text, found by torchvet check; malformed although pickle.load, load_all, pickle.py run it",
    "check-by-content/notes-txt-safetensors-polyglot/system": "issue 8 class 6: a crafted pickle named like text, found by torchvet check; malformed although pickle.load, load_all, pickle.py run it",
    "check-by-content/readme-gif-polyglot/helper": "issue 8 class 6: a crafted pickle named like text, found by torchvet check; malformed although pickle.load, load_all, pickle.py run it",
    "compressed/joblib-zfile-bare-hex-length/system": "issue 8 class 3: pickles behind every codec pandas and joblib decompress; malformed although joblib.load run it",
    "compressed/lzma-alone-props-zero-as-xz/exec": "issue 8 class 3: pickles behind every codec pandas and joblib decompress; malformed although pandas.xz run it",
    "compressed/zstd-skippable-frame-first/helper": "issue 8 class 3: pickles behind every codec pandas and joblib decompress; malformed although pandas.zst run it",
    "compressed/zstd/system": "issue 8 class 3: pickles behind every codec pandas and joblib decompress; unsupported although pandas.zst run it",
    "decode-spellings/frame-past-end/system": "issue 8 class 2: argument spellings CPython's unpicklers accept; malformed although pickle.py, joblib.load run it",
    "decode-spellings/int-leading-zero/exec": "issue 8 class 2: argument spellings CPython's unpicklers accept; malformed although pickle.load, load_all, numpy.load run it",
    "decode-spellings/int-octal-like/exec": "issue 8 class 2: argument spellings CPython's unpicklers accept; malformed although pickle.load, load_all, numpy.load run it",
    "dotted-names/numpy-dtypes-loader-set-data-protocol-2-opcodes-torch-zip/chain": "issue 8 class 1: dotted and dunder names resolved attribute by attribute; needs-allowlist although torch.load run it",
    "dotted-names/numpy-dtypes-loader-set-data-protocol-2-opcodes/chain": "issue 8 class 1: dotted and dunder names resolved attribute by attribute; unsupported although pickle.load, load_all, pickle.py run it",
    "dotted-names/numpy-dtypes-loader-set-data-torch-zip/chain": "issue 8 class 1: dotted and dunder names resolved attribute by attribute; unsupported although torch.load run it",
    "dotted-names/numpy-dtypes-loader-set-data/chain": "issue 8 class 1: dotted and dunder names resolved attribute by attribute; unsupported although pickle.load, load_all, pickle.py run it",
    "dotted-names/numpy-dtypes-spec-loader-set-data/chain": "issue 8 class 1: dotted and dunder names resolved attribute by attribute; unsupported although pickle.load, load_all, pickle.py run it",
    "limits/many-pickles-before/exec": "issue 8 class 4: a bound or an error before or after the payload; malformed although load_all, pickle.py run it",
    "polyglot-magic/bz2/helper": "issue 8 class 3: a pickle from byte 0 that begins like another format; malformed although pickle.load, load_all, pickle.py run it",
    "polyglot-magic/gif/exec": "issue 8 class 3: a pickle from byte 0 that begins like another format; malformed although pickle.load, load_all, pickle.py run it",
    "polyglot-magic/pe/exec": "issue 8 class 3: a pickle from byte 0 that begins like another format; malformed although pickle.load, load_all, pickle.py run it",
    "polyglot-magic/safetensors-header/helper": "issue 8 class 3: a pickle from byte 0 that begins like another format; malformed although pickle.load, load_all, pickle.py run it",
    "polyglot-magic/tar-member-name/exec": "issue 8 class 3: a pickle from byte 0 that begins like another format; unsupported although pickle.load, load_all, pickle.py run it",
    "polyglot-prefix-zip/elf-offsets-shifted/helper": "issue 8 class 3: another file's bytes, then a zip that zipfile finds; malformed although pandas.zip run it",
    "polyglot-prefix-zip/eocd-npz-offsets-shifted/system": "issue 8 class 3: another file's bytes, then a zip that zipfile finds; malformed although numpy.load run it",
    "polyglot-prefix-zip/eocd-npz-offsets-unshifted/helper": "issue 8 class 3: another file's bytes, then a zip that zipfile finds; malformed although numpy.load run it",
    "polyglot-prefix-zip/gif-offsets-shifted/exec": "issue 8 class 3: another file's bytes, then a zip that zipfile finds; malformed although pandas.zip run it",
    "polyglot-prefix-zip/gzip-offsets-shifted/exec": "issue 8 class 3: another file's bytes, then a zip that zipfile finds; malformed although pandas.zip run it",
    "polyglot-prefix-zip/pe-offsets-unshifted/system": "issue 8 class 3: another file's bytes, then a zip that zipfile finds; malformed although pandas.zip run it",
    "polyglot-prefix-zip/pickle-offsets-unshifted/exec": "issue 8 class 3: another file's bytes, then a zip that zipfile finds; malformed although pandas.zip run it",
    "polyglot-prefix-zip/png-offsets-unshifted/helper": "issue 8 class 3: another file's bytes, then a zip that zipfile finds; malformed although pandas.zip run it",
    "zip-views/npz-bzip2-member/system": "issue 8 class 3: a zip that torch and zipfile read differently; malformed although numpy.load run it",
    "zip-views/npz-end-record-count-short/helper": "issue 8 class 3: a zip that torch and zipfile read differently; unsupported although numpy.load run it",
    "zip-views/npz-lzma-member/exec": "issue 8 class 3: a zip that torch and zipfile read differently; malformed although numpy.load run it",
    "zip-views/pandas-zip-bzip2/exec": "issue 8 class 3: a zip that torch and zipfile read differently; malformed although pandas.zip run it",
    "zip-views/pandas-zip-lzma/helper": "issue 8 class 3: a zip that torch and zipfile read differently; malformed although pandas.zip run it",
    "zip-views/pandas-zip-member-named-csv/system": "issue 8 class 3: a zip that torch and zipfile read differently; malformed although pandas.zip run it",
}

# torchvet.guard(), torchvet.load or torchvet's printed advice ran the payload.
PROTECTED: dict[str, str] = {
    "dotted-names/numpy-dtypes-builtins-get-global-opcode/chain": "issue 8 class 1: dotted and dunder names resolved attribute by attribute; guard:pickle.load_all, guard:pickle._Unpickler, guard:joblib.load run it",
    "dotted-names/numpy-dtypes-builtins-get-torch-zip/chain": "issue 8 class 1: dotted and dunder names resolved attribute by attribute; guard:torch.load run it",
    "dotted-names/numpy-dtypes-builtins-get/chain": "issue 8 class 1: dotted and dunder names resolved attribute by attribute; guard:pickle.load_all, guard:pickle._Unpickler, guard:joblib.load run it",
    "dotted-names/numpy-dtypes-loader-set-data-protocol-2-opcodes-torch-zip/chain": "issue 8 class 1: dotted and dunder names resolved attribute by attribute; torchvet.load(allow), guard:torch.load run it",
    "dotted-names/numpy-dtypes-loader-set-data-protocol-2-opcodes/chain": "issue 8 class 1: dotted and dunder names resolved attribute by attribute; guard:pickle.load_all, guard:pickle._Unpickler, guard:joblib.load run it",
    "dotted-names/numpy-dtypes-loader-set-data-torch-zip/chain": "issue 8 class 1: dotted and dunder names resolved attribute by attribute; guard:torch.load run it",
    "dotted-names/numpy-dtypes-loader-set-data/chain": "issue 8 class 1: dotted and dunder names resolved attribute by attribute; guard:pickle.load_all, guard:pickle._Unpickler, guard:joblib.load run it",
    "dotted-names/numpy-dtypes-spec-loader-set-data/chain": "issue 8 class 1: dotted and dunder names resolved attribute by attribute; guard:pickle.load_all, guard:pickle._Unpickler, guard:joblib.load run it",
    "dotted-names/numpy-split-differently/chain": "issue 8 class 1: dotted and dunder names resolved attribute by attribute; guard:pickle.load_all, guard:pickle._Unpickler, guard:joblib.load run it",
}

# A denial-of-service file rated safe.
DOS: dict[str, str] = {
    "dos/hash-colliding-dict-keys-torch-zip/none": "issue 8 class 8: a load that allocates or computes far out of proportion to the file; rated safe",
    "dos/memo-index-4g-torch-zip/none": "issue 8 class 8: a load that allocates or computes far out of proportion to the file; rated safe",
}

# A crafted pickle that torchvet check does not report (or reports as safe).
CHECK: dict[str, str] = {
    "check-by-content/data-csv-tar-header-polyglot/helper": "issue 8 class 6: a crafted pickle named like text, found by torchvet check; not reported",
    "check-by-content/notes-txt-pe-polyglot/system": "issue 8 class 6: a crafted pickle named like text, found by torchvet check; not reported",
    "check-by-content/readme-gif-polyglot/helper": "issue 8 class 6: a crafted pickle named like text, found by torchvet check; not reported",
}
