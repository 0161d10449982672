"""Settings and the one config file, validated at start-up.

Two sources, two jobs: `Settings` (pydantic-settings, env prefix `AWAN_`, `.env`) carries what
differs per deployment and what is secret (store URL, Redis URL, API keys, bot token);
`awan.toml` carries what a trader tunes and reviews (universe, strategy, risk). Both forbid
unknown keys, so a typo fails at start-up with the key's name instead of being ignored, and
secrets are `SecretStr` so they never print.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from awan_trading.errors import AwanError, ConfigError
from awan_trading.market.timeframes import parse_timeframe
from awan_trading.masking import url_passwords

DEFAULT_CONFIG_FILE = "awan.toml"


# awan.toml's timeframes are the Dagster assets' timeframes, and those assets are partitioned
# by UTC day: a candle longer than a day spans several partitions and stays open across them,
# so no daily partition could hold it whole. Longer bars come from resampling stored 1d ones.
LONGEST_PARTITIONED = "1d"


def _check_timeframe(value: str) -> None:
    try:
        tf = parse_timeframe(value)
    except AwanError as exc:  # pydantic reports ValueErrors with the key's location
        raise ValueError(str(exc)) from None
    if tf > parse_timeframe(LONGEST_PARTITIONED):
        raise ValueError(
            f"timeframe {value!r} is longer than {LONGEST_PARTITIONED}: the Dagster assets are "
            f"partitioned by UTC day and a {value} candle spans several days, so it cannot live "
            f"in a daily partition; use {LONGEST_PARTITIONED} or shorter here and resample "
            f"(`awan resample --to {value}`)"
        )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UniverseConfig(_Strict):
    """What is traded: exchange mode, symbols and timeframes."""

    exchange: str = "sim"
    symbols: list[str] = Field(
        default_factory=lambda: ["BTC/USDT", "ETH/USDT", "SOL/USDT"], min_length=1
    )
    timeframes: list[str] = Field(default_factory=lambda: ["1m", "1h"], min_length=1)
    quote: str = "USDT"
    history_start: date = Field(date(2024, 1, 1), description="first day of the Dagster partitions")

    @field_validator("exchange")
    @classmethod
    def _exchange_mode(cls, value: str) -> str:
        mode, _, venue = value.partition(":")
        if value == "sim" or (mode in {"paper", "live"} and venue):
            return value
        raise ValueError(
            f"exchange must be 'sim', 'paper:<ccxt id>' or 'live:<ccxt id>', got {value!r}"
        )

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, values: list[str]) -> list[str]:
        for symbol in values:
            base, slash, quote = symbol.partition("/")
            if not (slash and base and quote and symbol == symbol.upper() and " " not in symbol):
                raise ValueError(
                    f"symbol {symbol!r} must look like BASE/QUOTE in upper case, e.g. BTC/USDT"
                )
        if len(set(values)) != len(values):
            raise ValueError("symbols contain duplicates")
        return values

    @field_validator("timeframes")
    @classmethod
    def _timeframes(cls, values: list[str]) -> list[str]:
        for value in values:
            _check_timeframe(value)
        return values


class StrategyConfig(_Strict):
    """Which registered strategy trades, with its parameters (validated by the strategy)."""

    name: str = "boll_stoch"
    timeframe: str = "1h"
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, value: str) -> str:
        _check_timeframe(value)
        return value

    # A strategy name or parameter that does not exist must stop awan at start-up with the
    # key's name, not when the Dagster code location or the live loop first builds it. The
    # registry is imported here, not at module level: it pulls in TA-Lib, and `awan --help`
    # and the settings loader must stay cheap.
    @field_validator("name")
    @classmethod
    def _registered(cls, value: str) -> str:
        from awan_trading.strategies import STRATEGIES

        if value not in STRATEGIES:
            raise ValueError(
                f"unknown strategy {value!r}; available: {', '.join(sorted(STRATEGIES))}"
            )
        return value

    @field_validator("params")
    @classmethod
    def _strategy_params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        from awan_trading.strategies import StrategyError, get_strategy

        name = info.data.get("name")
        if name is None:  # the name failed its own check, which already names it
            return value
        try:
            get_strategy(name, value)
        except StrategyError as exc:
            raise ValueError(str(exc)) from None
        return value


class RiskConfig(_Strict):
    """Limits the executor enforces before any order reaches an exchange.

    Exits (stop-loss, take-profit, trailing stop) are strategy parameters, not risk limits, so
    the backtest and the live executor read them from the same place.
    """

    stake_fraction: float = Field(
        0.2, gt=0, le=1, description="share of equity put into one position"
    )
    max_open_positions: int = Field(3, ge=1)
    max_position_quote: float = Field(5_000.0, gt=0)
    max_daily_loss: float = Field(0.05, gt=0, lt=1)


class SimConfig(_Strict):
    """The deterministic offline market and account used by the embedded defaults."""

    seed: int = 42
    fee_rate: float = Field(0.001, ge=0, lt=0.05)
    slippage_bps: float = Field(2.0, ge=0, lt=500)
    starting_balance: dict[str, float] = Field(default_factory=lambda: {"USDT": 10_000.0})


class AwanConfig(_Strict):
    """The whole `awan.toml`."""

    universe: UniverseConfig = Field(default_factory=UniverseConfig)
    strategy: StrategyConfig = Field(default_factory=StrategyConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)
    sim: SimConfig = Field(default_factory=SimConfig)
    live_confirmed: bool = Field(
        False, description="must be true before a live:<id> exchange may trade"
    )

    @model_validator(mode="after")
    def _live_needs_confirmation(self) -> AwanConfig:
        if self.universe.exchange.startswith("live:") and not self.live_confirmed:
            raise ValueError(
                f"exchange {self.universe.exchange!r} places real orders; set live_confirmed = true to allow it"
            )
        return self


class Settings(BaseSettings):
    """Deployment settings from the environment (`AWAN_*`) and `.env`."""

    model_config = SettingsConfigDict(
        env_prefix="AWAN_", env_file=".env", extra="forbid", frozen=True
    )

    home: Path = Path(".awan")
    config_file: Path | None = None
    store_url: SecretStr = SecretStr("")
    redis_url: SecretStr | None = None
    exchange_api_key: SecretStr | None = None
    exchange_api_secret: SecretStr | None = None
    telegram_token: SecretStr | None = None
    # The allowlist: commands are served and notifications sent to these chats only. The
    # single-id `telegram_chat_id` predates it and is still honoured as one more id.
    telegram_chat_ids: str | None = None
    telegram_chat_id: str | None = None
    # PTB's `base_url`: the token is appended to it. Another value serves a self-hosted Bot API
    # server or the loopback fake the tests run.
    telegram_api_url: str = "https://api.telegram.org/bot"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"

    @field_validator("telegram_chat_ids", "telegram_chat_id")
    @classmethod
    def _chat_ids_are_integers(cls, value: str | None) -> str | None:
        for part in _split_ids(value):
            try:
                int(part)
            except ValueError:
                raise ValueError(
                    f"chat id {part!r} is not an integer (Telegram chat ids are numbers; "
                    "groups are negative)"
                ) from None
        return value

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    def telegram_chats(self) -> tuple[int, ...]:
        """The allowed chat ids, in the order given, each once."""
        ids = _split_ids(self.telegram_chat_ids) + _split_ids(self.telegram_chat_id)
        return tuple(dict.fromkeys(int(part) for part in ids))

    def resolved_store_url(self) -> str:
        """The store URL; DuckDB under `home` when none is configured."""
        url = self.store_url.get_secret_value()
        return url or f"duckdb:///{(self.home / 'awan.duckdb').as_posix()}"

    def secret_values(self) -> list[str]:
        """Every secret string, for the log redactor."""
        secrets = [self.exchange_api_key, self.exchange_api_secret, self.telegram_token]
        values = [s.get_secret_value() for s in secrets if s is not None]
        # Found without parsing: a password with `/`, `@` or a space breaks urllib's parser.
        values += url_passwords(self.store_url.get_secret_value())
        if self.redis_url is not None:
            values += url_passwords(self.redis_url.get_secret_value())
        return [v for v in values if v]


def _split_ids(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _describe(error: ValidationError, source: str) -> str:
    parts = []
    for item in error.errors():
        key = ".".join(str(p) for p in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        value = item.get("input")
        shown = (
            ""
            if item["type"] in {"extra_forbidden", "missing"} or isinstance(value, dict)
            else f" (got {value!r})"
        )
        parts.append(f"{key}: {message}{shown}")
    return f"invalid {source}: " + "; ".join(parts)


def load_settings(**overrides: Any) -> Settings:
    """Build `Settings` from the environment; invalid values raise `ConfigError` naming the key."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, "settings (AWAN_* environment / .env)")) from None


def load_config(path: Path | str | None = None) -> AwanConfig:
    """Read and validate the config file; defaults when the default file does not exist.

    The file is `path`, else `AWAN_CONFIG_FILE`, else `./awan.toml`. An explicitly named file
    (either way) that is missing is an error: a typo in a path must not silently run with
    defaults.
    """
    if path is None:
        path = load_settings().config_file
    file = Path(path) if path is not None else Path(DEFAULT_CONFIG_FILE)
    if not file.exists():
        if path is not None:
            raise ConfigError(f"config file {file} does not exist")
        return AwanConfig()
    try:
        raw = tomllib.loads(file.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {file}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {file} is not valid TOML: {exc}") from None
    try:
        return AwanConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, f"config file {file}")) from None
