"""What a secondary reading adds to the primary one (``containers.dispatch`` composes them).

A secondary reading (``pickle.load`` from byte 0, Python's ``zipfile``, another copy of a
duplicated zip record) contributes only what can run code or what stopped torchvet;
its decode errors mean only that this loader fails too, and its inert names are warnings.
"""

from __future__ import annotations

import sys

from torchvet.guarding import GUARD_DATA
from torchvet.pickle.trace import StreamTrace
from torchvet.policy.judge import Judgement
from torchvet.results import Category, Finding

# What a secondary reading may add: what can run code, or what kept torchvet from
# reading to the end. Everything else there only says that this loader fails too.
_EXECUTION_CATEGORIES = frozenset(
    {
        Category.GADGET,
        Category.UNKNOWN_GLOBAL,
        Category.CODE,
        Category.LIMIT,
        Category.RESOURCE,
        Category.WARNING,
    }
)
# Top-level packages a process that loads models commonly has (beyond the stdlib).
# fmt: off
COMMON_PACKAGES = frozenset({
    "torch", "torchvision", "torchaudio", "torchtext", "functorch", "numpy", "scipy", "pandas",
    "sklearn", "joblib", "transformers", "diffusers", "accelerate", "peft", "timm", "lightning",
    "pytorch_lightning", "lightning_fabric", "ultralytics", "tensorflow", "keras", "jax",
    "jaxlib", "flax", "optax", "xgboost", "lightgbm", "catboost", "dill", "cloudpickle",
    "omegaconf", "hydra", "yaml", "requests", "urllib3", "PIL", "cv2", "matplotlib", "IPython",
    "setuptools", "pip", "pkg_resources", "huggingface_hub", "datasets", "tokenizers",
    "safetensors", "onnx", "onnxruntime", "sympy", "networkx", "numba", "tqdm", "rich", "click",
    "fsspec", "s3fs", "gcsfs", "boto3", "botocore", "aiohttp", "jinja2", "mlflow", "wandb",
    "ray", "dask", "distributed", "sentencepiece", "einops", "triton", "tensorboard", "h5py",
    "tables", "pyarrow", "polars", "statsmodels", "skimage", "nltk", "spacy", "gensim", "fastai",
    "mmcv", "mmengine", "detectron2", "fairseq", "deepspeed", "bitsandbytes", "xformers", "vllm",
    "openai",
})
# fmt: on


def absorb(primary: Judgement, streams: list[StreamTrace], other: Judgement, view: str) -> None:
    """Add to ``primary`` (whose reading ran ``streams``) what ``other``, the reading of
    the loader ``view``, found that can run code or stopped torchvet."""
    seen = {(f.category, f.entry, f.offset, f.global_name, f.message) for f in primary.findings}
    named = {(f.category, f.global_name) for f in primary.findings if f.global_name}
    expected = _modules_named(primary, streams)
    for f in other.findings:
        category, message = f.category, f.message
        if category is Category.INERT_GLOBAL:
            category = Category.WARNING
            message = f"{message} (resolved by {view}; no code runs)"
        elif category is Category.UNKNOWN_GLOBAL:
            name = f.global_name
            if not _importable(name) or name in GUARD_DATA:
                continue  # no loader can import it, or joblib's/pandas' own data class
            if name is not None and not could_exist(name, expected):
                # Most often a misreading (pickle.load reading a joblib object array's
                # nested pickle puts memo strings where module names go); but a module of
                # that name on the loading machine would run: say so, and stay unknown.
                message = (
                    f"{view} would import and call {name}, from a module that neither a "
                    "known library nor the rest of this file names (if no such module is "
                    "installed where the file is loaded, that load fails there)"
                )
        if category not in _EXECUTION_CATEGORIES:
            continue
        key = (category, f.entry, f.offset, f.global_name, message)
        if key in seen or (f.category, f.entry, f.offset, f.global_name, f.message) in seen:
            continue
        if f.global_name and (category, f.global_name) in named:
            continue  # the primary reading already reports this name
        seen.add(key)
        primary.findings.append(
            Finding(category, message, f.entry, f.offset, f.global_name, f.view or view)
        )


def _modules_named(primary: Judgement, streams: list[StreamTrace]) -> frozenset[str]:
    """Top-level modules the primary reading names: the ones the file's author expects."""
    return frozenset(
        f.global_name.split(".", 1)[0] for f in primary.findings if f.global_name is not None
    ) | frozenset(g.module.split(".", 1)[0] for trace in streams for g in trace.globals())


def could_exist(name: str, expected: frozenset[str]) -> bool:
    """Whether a module of this name is commonly found where models are loaded: the
    standard library, a library the ML world installs, or one the file names elsewhere.
    Only wording and the text-or-pickle decision depend on it, never a verdict's floor."""
    top = name.split(".", 1)[0]
    return top in sys.stdlib_module_names or top in COMMON_PACKAGES or top in expected


def _importable(name: str | None) -> bool:
    """A name whose module part could be imported at all (``__import__`` refuses the rest)."""
    if name is None:
        return True
    return all(part.isidentifier() for part in name.split("."))
