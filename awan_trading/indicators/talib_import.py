"""TA-Lib, imported without pandas.

TA-Lib's package (and its compiled `_abstract` part) imports pandas when it can, only to accept
`pandas.Series` arguments. awan always passes numpy arrays (`core.as_array`), yet that import
alone is pandas plus the pyarrow it pulls in — the largest single share of the live loop's
start-up memory (`tests/unit/test_import_budget.py` keeps it out). So while TA-Lib imports,
`sys.modules["pandas"]` holds `None`, which makes `import pandas` raise the
`ModuleNotFoundError` TA-Lib already handles as "pandas is not installed"; the entry is removed
right after, so pandas imports normally for anyone else later.

When pandas is already imported (a Dagster process, a notebook), TA-Lib simply sees it, as before:
the numbers are the same either way, only the accepted argument types differ.
"""

from __future__ import annotations

import sys
from types import ModuleType


def import_talib() -> ModuleType:
    """The `talib` module; pandas is not imported by it if it was not imported already."""
    if "talib" in sys.modules or "pandas" in sys.modules:
        import talib

        return talib
    sys.modules["pandas"] = None  # type: ignore[assignment]
    try:
        import talib
    finally:
        if sys.modules.get("pandas", 0) is None:
            del sys.modules["pandas"]
    return talib
