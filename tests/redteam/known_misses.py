"""What torchvet gets wrong today, case by case: the lead's work list for issue 8.

Each entry marks a red-team test ``xfail(strict=True)``; when a fix lands the test
passes, strict xfail turns that into a failure, and the entry is removed. Regenerate
the lists with ``python benchmarks/redteam.py --seeded --known-misses``.
"""

from __future__ import annotations

SCAN: dict[str, str] = {
    "compressed/joblib-zfile-bare-hex-length/system": "issue 8 class 3: pickles behind every codec pandas and joblib decompress; not-a-model although joblib.load run it",
    "compressed/lzma-alone-props-zero-as-xz/exec": "issue 8 class 3: pickles behind every codec pandas and joblib decompress; not-a-model although pandas.xz run it",
    "compressed/zstd-skippable-frame-first/helper": "issue 8 class 3: pickles behind every codec pandas and joblib decompress; not-a-model although pandas.zst run it",
    "compressed/zstd/system": "issue 8 class 3: pickles behind every codec pandas and joblib decompress; unsupported although pandas.zst run it",
    "decode-spellings/frame-past-end/system": "issue 8 class 2: argument spellings CPython's unpicklers accept; malformed although pickle.py, joblib.load run it",
    "decode-spellings/int-leading-zero/exec": "issue 8 class 2: argument spellings CPython's unpicklers accept; not-a-model although pickle.load, load_all, numpy.load run it",
    "decode-spellings/int-octal-like/exec": "issue 8 class 2: argument spellings CPython's unpicklers accept; not-a-model although pickle.load, load_all, numpy.load run it",
}
PROTECTED: dict[str, str] = {}
DOS: dict[str, str] = {
    "dos/hash-colliding-dict-keys-torch-zip/none": "issue 8 class 8: a load that allocates or computes far out of proportion to the file; rated safe",
    "dos/memo-index-4g-torch-zip/none": "issue 8 class 8: a load that allocates or computes far out of proportion to the file; rated safe",
}
CHECK: dict[str, str] = {}
