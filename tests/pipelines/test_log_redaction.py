"""What awan logs inside a Dagster run reaches Dagster's event log redacted.

`context.log` lines, awan's own loggers when the instance captures them (`python_logs`), and
an awan error's message in the step failure are all stored by Dagster, which redacts nothing:
awan's record factory and error root must have removed the secrets before Dagster sees them.
"""

import uuid

import dagster as dg

from awan_trading.config import load_settings
from awan_trading.errors import DataError
from awan_trading.logs import get_logger, setup_logging


def test_context_log_captured_loggers_and_step_failures_are_redacted(tmp_path):
    secret = f"k/y@ {uuid.uuid4().hex} ü"
    setup_logging(load_settings(home=tmp_path, exchange_api_key=secret))

    @dg.asset
    def leaky(context: dg.AssetExecutionContext) -> None:
        context.log.info(f"exchange key is {secret}")
        context.log.warning("dsn %s", f"postgresql://u:{secret}@db/x")
        get_logger("awan_trading.test").warning("awan logger", key=secret)
        raise DataError(f"exchange refused key {secret}")

    overrides = {"python_logs": {"managed_python_loggers": ["awan_trading"]}}
    with dg.instance_for_test(overrides=overrides) as instance:
        result = dg.materialize([leaky], instance=instance, raise_on_error=False)
        assert not result.success
        records = [dg.serialize_value(e) for e in instance.all_logs(result.run_id)]
    stored = "\n".join(records)
    assert "exchange key is ***" in stored and "postgresql://u:***@db/x" in stored
    assert "awan logger" in stored  # the captured awan logger line is there…
    assert "exchange refused key ***" in stored
    assert secret not in stored and secret.split()[1] not in stored  # …without the key
