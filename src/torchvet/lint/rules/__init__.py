"""The rule registry: one module per rule, listed here in code order."""

from __future__ import annotations

from torchvet.lint.rules.base import Rule
from torchvet.lint.rules.tv001_misplaced_load_keyword import MisplacedLoadKeyword
from torchvet.lint.rules.tv002_load_without_weights_only import LoadWithoutWeightsOnly
from torchvet.lint.rules.tv003_weights_only_false import WeightsOnlyFalse
from torchvet.lint.rules.tv004_load_keyword_typo import LoadKeywordTypo
from torchvet.lint.rules.tv005_pickle_module import LoadPickleModule
from torchvet.lint.rules.tv006_unsafe_retry import UnsafeRetry
from torchvet.lint.rules.tv007_dangerous_safe_global import DangerousSafeGlobal
from torchvet.lint.rules.tv008_save_pickle_protocol import SavePickleProtocol
from torchvet.lint.rules.tv009_load_trailing_comma import LoadTrailingComma
from torchvet.lint.rules.tv101_pickle_load import PickleLoad
from torchvet.lint.rules.tv102_dill_cloudpickle_load import DillCloudpickleLoad
from torchvet.lint.rules.tv103_joblib_load import JoblibLoad
from torchvet.lint.rules.tv104_pandas_read_pickle import PandasReadPickle
from torchvet.lint.rules.tv105_numpy_allow_pickle import NumpyAllowPickle
from torchvet.lint.rules.tv106_hub_load_untrusted import HubLoadUntrusted
from torchvet.lint.rules.tv107_trust_remote_code import TrustRemoteCode
from torchvet.lint.rules.tv108_use_safetensors_false import UseSafetensorsFalse
from torchvet.lint.rules.tv900_unused_noqa import UnusedNoqa

RULES: tuple[type[Rule], ...] = (
    MisplacedLoadKeyword,
    LoadWithoutWeightsOnly,
    WeightsOnlyFalse,
    LoadKeywordTypo,
    LoadPickleModule,
    UnsafeRetry,
    DangerousSafeGlobal,
    SavePickleProtocol,
    LoadTrailingComma,
    PickleLoad,
    DillCloudpickleLoad,
    JoblibLoad,
    PandasReadPickle,
    NumpyAllowPickle,
    HubLoadUntrusted,
    TrustRemoteCode,
    UseSafetensorsFalse,
    UnusedNoqa,
)
RULES_BY_CODE: dict[str, type[Rule]] = {rule.code: rule for rule in RULES}


def select_rules(select: list[str] | None, ignore: list[str] | None) -> list[type[Rule]]:
    """Rules whose code matches a ``select`` prefix (``ALL`` = every rule) and no ``ignore`` one."""
    chosen = select if select else ["ALL"]

    def matches(code: str, prefixes: list[str]) -> bool:
        return any(p == "ALL" or code.startswith(p) for p in prefixes)

    return [r for r in RULES if matches(r.code, chosen) and not matches(r.code, ignore or [])]


def unknown_codes(prefixes: list[str]) -> list[str]:
    return [p for p in prefixes if p != "ALL" and not any(c.startswith(p) for c in RULES_BY_CODE)]
