import pytest

from awan_trading.config import AwanConfig, load_config, load_settings
from awan_trading.errors import ConfigError


def write(tmp_path, text: str):
    path = tmp_path / "awan.toml"
    path.write_text(text)
    return path


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config == AwanConfig()
    assert config.universe.exchange == "sim"
    assert config.universe.symbols == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]


def test_a_full_file_is_read(tmp_path):
    path = write(
        tmp_path,
        """
[universe]
exchange = "paper:binance"
symbols = ["BTC/USDT"]
timeframes = ["5m", "1h"]

[strategy]
name = "ema_trend"
timeframe = "5m"
params = { ema_fast = 12 }

[risk]
max_open_positions = 2
""",
    )
    config = load_config(path)
    assert config.universe.exchange == "paper:binance"
    assert config.strategy.params == {"ema_fast": 12}
    assert config.risk.max_open_positions == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[universe]\nsymbol = ['BTC/USDT']\n", "universe.symbol: unknown key"),
        (
            "[risk]\nmax_open_positions = 'three'\n",
            "risk.max_open_positions: Input should be a valid integer",
        ),
        ("[risk]\nstake_fraction = 1.5\n", "risk.stake_fraction"),
        ("[universe]\ntimeframes = ['7m']\n", "unknown timeframe '7m'"),
        ("[universe]\nsymbols = ['btcusdt']\n", "symbol 'btcusdt' must look like BASE/QUOTE"),
        ("[universe]\nexchange = 'binance'\n", "exchange must be 'sim'"),
        ("[universe]\nexchange = 'live:binance'\n", "set live_confirmed = true"),
        ("[sim]\nseed = 1\nfoo = 2\n", "sim.foo: unknown key"),
        ("verbose = true\n", "verbose: unknown key"),
        ("[universe\n", "not valid TOML"),
        (
            "[strategy]\nname = 'boll_stok'\n",
            "strategy.name: Value error, unknown strategy 'boll_stok'; available: boll_stoch",
        ),
        (
            "[strategy]\nname = 'ema_trend'\nparams = { ema_fst = 20 }\n",
            "strategy.params: Value error, unknown parameter 'ema_fst' for strategy 'ema_trend'",
        ),
        ("[strategy]\nparams = { stop_loss = 'tight' }\n", "strategy.params"),
    ],
)
def test_bad_config_fails_naming_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=r"invalid config file|not valid TOML") as caught:
        load_config(write(tmp_path, text))
    assert message in str(caught.value)


def test_live_mode_with_confirmation_is_accepted(tmp_path):
    config = load_config(
        write(tmp_path, "live_confirmed = true\n[universe]\nexchange = 'live:binance'\n")
    )
    assert config.universe.exchange == "live:binance"


def test_explicit_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_settings_from_env_keep_secrets_secret(monkeypatch):
    monkeypatch.setenv("AWAN_EXCHANGE_API_KEY", "k-123456789")
    monkeypatch.setenv("AWAN_TELEGRAM_TOKEN", "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi")
    monkeypatch.setenv("AWAN_STORE_URL", "postgresql://awan:hunter22@db:5432/awan")
    settings = load_settings()
    text = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in ("k-123456789", "ABCDEFGHIJKLMNOP", "hunter22"):
        assert secret not in text
    assert set(settings.secret_values()) == {
        "k-123456789",
        "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi",
        "hunter22",
    }


def test_default_store_is_duckdb_under_home(monkeypatch):
    monkeypatch.delenv("AWAN_STORE_URL", raising=False)
    settings = load_settings(home="/tmp/awan-home")
    assert settings.resolved_store_url() == "duckdb:////tmp/awan-home/awan.duckdb"


def test_bad_settings_name_the_variable(monkeypatch):
    monkeypatch.setenv("AWAN_LOG_LEVEL", "LOUD")
    with pytest.raises(ConfigError, match="log_level"):
        load_settings()


def test_unknown_key_in_dotenv_fails(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("AWAN_STORE_URL=duckdb:///x.duckdb\nAWAN_STOER_URL=oops\n")
    with pytest.raises(ConfigError, match="stoer_url: unknown key"):
        load_settings()


@pytest.mark.parametrize("timeframe", ["3d", "1w", "1M"])
@pytest.mark.parametrize("section", ["universe", "strategy"])
def test_timeframes_longer_than_a_daily_partition_are_refused(tmp_path, section, timeframe):
    key = "timeframes" if section == "universe" else "timeframe"
    value = f"['1h', '{timeframe}']" if section == "universe" else f"'{timeframe}'"
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, f"[{section}]\n{key} = {value}\n"))
    message = str(caught.value)
    assert f"{section}.{key}" in message
    assert f"timeframe '{timeframe}' is longer than 1d" in message
    assert "partitioned by UTC day" in message


def test_8h_and_1d_fit_a_daily_partition(tmp_path):
    config = load_config(write(tmp_path, "[universe]\ntimeframes = ['8h', '1d']\n"))
    assert config.universe.timeframes == ["8h", "1d"]


def test_the_config_file_comes_from_awan_config_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    other = tmp_path / "other.toml"
    other.write_text("[universe]\nsymbols = ['XRP/ETH']\n")
    monkeypatch.setenv("AWAN_CONFIG_FILE", str(other))
    assert load_config().universe.symbols == ["XRP/ETH"]
    monkeypatch.setenv("AWAN_CONFIG_FILE", str(tmp_path / "typo.toml"))
    with pytest.raises(ConfigError, match=r"typo\.toml does not exist"):
        load_config()


def _warm(*args: str):
    from typer.testing import CliRunner

    from awan_trading.cli import app

    return CliRunner().invoke(app, ["cache", "warm", *args])


def test_cli_honours_awan_config_file_and_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AWAN_REDIS_URL", raising=False)
    monkeypatch.setenv("AWAN_STORE_URL", f"duckdb:///{tmp_path / 'store.duckdb'}")
    good = tmp_path / "good.toml"
    good.write_text("[universe]\nsymbols = ['XRP/ETH']\ntimeframes = ['5m']\n")
    bad = tmp_path / "bad.toml"
    bad.write_text("[strategy]\nname = 'ema_trend'\nparams = { oversold = 25 }\n")
    (tmp_path / "awan.toml").write_text("[universe]\nsymbols = ['SOL/USDT']\n")
    from awan_trading.storage import open_store

    open_store(migrate=True).close()
    cases = [
        ({"AWAN_CONFIG_FILE": str(good)}, (), "XRP/ETH"),
        ({}, ("--config", str(good)), "XRP/ETH"),
        ({}, (), "SOL/USDT"),
    ]
    for env, args, symbol in cases:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        result = _warm(*args)
        assert result.exit_code == 0, result.output
        assert symbol in result.stdout
        monkeypatch.delenv("AWAN_CONFIG_FILE", raising=False)
    monkeypatch.setenv("AWAN_CONFIG_FILE", str(bad))
    result = _warm()
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert "bad.toml: strategy.params" in result.stderr and "'oversold'" in result.stderr


def test_telegram_allowlist_merges_both_variables_in_order() -> None:
    settings = load_settings(_env_file=None, telegram_chat_ids="1, -1002,1", telegram_chat_id="7")
    assert settings.telegram_chats() == (1, -1002, 7)
    assert load_settings(_env_file=None).telegram_chats() == ()


def test_telegram_chat_id_that_is_not_a_number_fails_at_start_up() -> None:
    with pytest.raises(ConfigError, match=r"telegram_chat_ids.*'abc' is not an integer"):
        load_settings(_env_file=None, telegram_chat_ids="1,abc")
    with pytest.raises(ConfigError, match="telegram_api_url"):
        load_settings(_env_file=None, telegram_api_url="api.telegram.org")
