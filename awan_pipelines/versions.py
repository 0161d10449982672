"""`code_version`s derived from the code and parameters an asset's values depend on.

Dagster marks a materialization "code version changed" when the asset's `code_version` differs
from the one it was materialized with. Hashing the source of the awan_trading modules that
compute the values (and the parameters) makes that flag true exactly when a recompute could
give different values — without anyone remembering to bump a number.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from types import ModuleType


def code_version(*sources: ModuleType | type | object, params: object = None) -> str:
    """A 12-hex digest of the sources of `sources` and of `params` (JSON, sorted keys)."""
    digest = hashlib.blake2b(digest_size=6)
    for source in sources:
        digest.update(inspect.getsource(source).encode())  # type: ignore[arg-type]
    digest.update(json.dumps(params, sort_keys=True, default=str).encode())
    return digest.hexdigest()
