"""The sim's price process: a deterministic, random-access market for any `BASE/QUOTE`.

A backfill of last March and the live loop asking for the minute that just closed must see the
same candle, and a test must be able to ask for any week without generating the years before
it. So the 1m candle of (seed, symbol, minute) is a pure function computed from counter-based
hashes (splitmix64 over the minute's lattice cells), never from a running random state:

- log price = log P0 + coarse(t) + vol_scale · bridge(t).
- `bridge` is a Lévy–Ciesielski construction of Brownian motion inside blocks of 2**11
  minutes: tent functions of widths 2…2048 minutes, each weighted by a hashed normal, give
  exactly independent Gaussian 1m increments with random access. Each tent is also scaled by
  the volatility factor at its centre (hashed smooth noise over hours…days, times an intraday
  season), so calm and wild stretches cluster the way real markets do.
- `coarse` is linear value noise over blocks…months (amplitude ∝ sqrt(scale), partly shared
  by all symbols as a "market" factor): it joins the blocks and gives trends and regimes. It is
  bounded, so prices stay positive and in a sane range forever.
- open(t) = price(t), close(t) = price(t+1), so every open equals the previous close; wicks
  and volume are hashed and scale with the local volatility. Prices are rounded to the
  market's tick (high/low outward), which keeps the OHLC invariants exact.

Higher timeframes are the 1m candles aggregated by `resample_candles`, so they agree exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from awan_trading.errors import DataError
from awan_trading.exchange.sim_noise import (
    normals,
    smooth_noise,
    splitmix,
    stable_hash,
    value_noise,
)
from awan_trading.market.resample import resample_candles
from awan_trading.market.schema import CANDLE_SCHEMA, empty_candles
from awan_trading.market.timeframes import (
    Timeframe,
    from_epoch_ms,
    parse_timeframe,
    to_epoch_ms,
)

MINUTE_MS = 60_000
SYMBOL_RE = re.compile(r"^([A-Z0-9]{1,20})/([A-Z0-9]{1,20})$")

_BRIDGE_LEVELS = 11  # tents of width 2**1 … 2**11 minutes; blocks of 2048 minutes (~34 h)
_BLOCK = 1 << _BRIDGE_LEVELS
_COARSE_SCALES = tuple(_BLOCK << j for j in range(7))  # 2048 min … 131072 min (~91 days)
_VOL_SCALES = (128, 512, 2048, 8192)  # ~2 h … ~6 days
_VOL_AMPLITUDE = 0.32  # per octave, in log volatility
_MARKET_BETA = 0.7  # share of the coarse moves common to every symbol

MIN_NOTIONAL_USD = 5.0


@dataclass(frozen=True)
class _Asset:
    usd: float  # reference price in USD
    vol: float  # per-minute log volatility
    usd_volume: float  # typical USD traded per minute


# Assets people expect to recognise; any other asset gets hashed values.
_KNOWN_ASSETS: dict[str, _Asset] = {
    "BTC": _Asset(45_000.0, 0.0007, 2_000_000.0),
    "ETH": _Asset(2_500.0, 0.0009, 1_000_000.0),
    "SOL": _Asset(100.0, 0.0014, 300_000.0),
    "BNB": _Asset(300.0, 0.0009, 100_000.0),
    "XRP": _Asset(0.55, 0.0011, 150_000.0),
    "ADA": _Asset(0.45, 0.0012, 50_000.0),
    "DOGE": _Asset(0.08, 0.0014, 100_000.0),
    "AVAX": _Asset(30.0, 0.0015, 50_000.0),
    "DOT": _Asset(6.0, 0.0012, 30_000.0),
    "LINK": _Asset(15.0, 0.0013, 40_000.0),
    "LTC": _Asset(70.0, 0.0011, 40_000.0),
    "TRX": _Asset(0.11, 0.0008, 20_000.0),
}
_STABLE = frozenset({"USDT", "USDC", "BUSD", "FDUSD", "TUSD", "DAI", "USD"})

_SEASON = 1.0 + 0.25 * np.cos(2.0 * np.pi * (np.arange(1440) - 15 * 60) / 1440.0)


@dataclass(frozen=True)
class _Blocks:
    """Per-minute log price and volatility factor of whole blocks, from `first_minute` on."""

    first_minute: int
    log_price: np.ndarray
    vol: np.ndarray


@dataclass(frozen=True)
class SymbolProfile:
    """What the process needs to know about one symbol; derived from its name and the seed."""

    symbol: str
    base: str
    quote: str
    p0: float  # reference price the process wanders around
    vol: float  # per-minute log volatility at volatility factor 1
    volume: float  # typical traded base amount per minute
    price_decimals: int  # tick = 10**-price_decimals
    amount_decimals: int  # lot step = 10**-amount_decimals
    min_notional: float  # in quote currency; 5 for USD-stable quotes

    @property
    def tick(self) -> float:
        return 10.0**-self.price_decimals

    @property
    def step(self) -> float:
        return 10.0**-self.amount_decimals


def split_symbol(symbol: str) -> tuple[str, str]:
    """`BASE/QUOTE` in upper case, or `DataError` naming the symbol: the sim invents markets
    for any well-formed name, so the name itself is the only thing that can be wrong."""
    match = SYMBOL_RE.match(symbol) if isinstance(symbol, str) else None
    if match is None:
        raise DataError(
            f"sim: invalid symbol {symbol!r}; expected BASE/QUOTE in upper case, e.g. BTC/USDT"
        )
    return match.group(1), match.group(2)


class SimMarket:
    """Deterministic candles for any `BASE/QUOTE` symbol; equal seeds give equal markets."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self._profiles: dict[str, SymbolProfile] = {}
        self._last_block: dict[str, _Blocks] = {}  # see `_block`

    # --- symbols -------------------------------------------------------------------------

    @staticmethod
    def _asset(asset: str) -> _Asset:
        if asset in _STABLE:
            return _Asset(1.0, 0.0, 200_000.0)
        if asset in _KNOWN_ASSETS:
            return _KNOWN_ASSETS[asset]
        h = stable_hash("asset", asset)
        return _Asset(
            usd=10.0 ** (-2.0 + 5.0 * ((h & 0xFFFF) / 0xFFFF)),  # 0.01 … 1000 USD
            vol=0.0008 + 0.001 * (((h >> 16) & 0xFFFF) / 0xFFFF),
            usd_volume=10.0 ** (4.0 + 1.5 * (((h >> 32) & 0xFFFF) / 0xFFFF)),
        )

    def profile(self, symbol: str) -> SymbolProfile:
        """The symbol's reference price, volatility and precision (seed-independent).

        Precision follows the price magnitude the way Binance's filters do: about five
        significant digits of price (never a tick coarser than 0.01) and a lot step worth
        0.1–1 USD (never coarser than 1): BTC/USDT ticks 0.01 with step 0.00001.
        """
        cached = self._profiles.get(symbol)
        if cached is not None:
            return cached
        base_name, quote_name = split_symbol(symbol)
        base, quote = self._asset(base_name), self._asset(quote_name)
        p0 = base.usd / quote.usd
        vol = math.hypot(base.vol, quote.vol)
        if base.vol and quote.vol:
            vol *= 0.6  # crosses of two volatile assets move less than either leg
        min_notional = MIN_NOTIONAL_USD / quote.usd
        min_notional = float(f"{min_notional:.1g}")  # one significant digit, like Binance
        profile = SymbolProfile(
            symbol=symbol,
            base=base_name,
            quote=quote_name,
            p0=p0,
            vol=max(vol, 0.00002),  # a stable/stable pair still wiggles a little
            volume=max(base.usd_volume, quote.usd_volume) / base.usd,
            price_decimals=max(2, 4 - math.floor(math.log10(p0))),
            amount_decimals=max(0, math.floor(math.log10(base.usd)) + 1),
            min_notional=min_notional,
        )
        self._profiles[symbol] = profile
        return profile

    # --- the process ---------------------------------------------------------------------

    def _key(self, *parts: object) -> int:
        return stable_hash("awan-sim", self.seed, *parts)

    def _volatility(self, symbol: str, first: int, count: int) -> np.ndarray:
        """The clustering factor (mean ≈ 1) for contiguous minutes: smooth hashed noise in log
        space times an intraday season that peaks at 15:00 UTC, as crypto volume does."""
        log_vol = np.full(count, -0.2)
        for scale in _VOL_SCALES:
            key = self._key(symbol, "vol", scale)
            log_vol += _VOL_AMPLITUDE * smooth_noise(key, first, count, scale)
        offset = first % 1440
        season = np.resize(np.concatenate((_SEASON[offset:], _SEASON[:offset])), count)
        return np.exp(log_vol) * season

    def _coarse(self, profile: SymbolProfile, blocks: np.ndarray) -> np.ndarray:
        """The trend/regime component at block boundaries (all its knots lie on them)."""
        minutes = blocks * _BLOCK
        coarse = np.zeros(len(blocks))
        share = (_MARKET_BETA, math.sqrt(1.0 - _MARKET_BETA**2))
        for scale in _COARSE_SCALES:
            amplitude = 0.7 * profile.vol * math.sqrt(scale)
            for owner, owner_share in zip(("market", profile.symbol), share, strict=True):
                key = self._key(owner, "coarse", scale)
                coarse += amplitude * owner_share * value_noise(key, minutes, scale)
        return coarse

    def _blocks(self, profile: SymbolProfile, first_block: int, count: int) -> _Blocks:
        """log price and volatility factor for every minute of `count` whole blocks.

        Whole blocks are always computed, whatever part of them was asked for, so a minute's
        value never depends on the chunk it was generated in. The Brownian bridge inside each
        block is built by midpoint displacement (the Lévy–Ciesielski tents), coarsest level
        first: each new midpoint is the mean of its neighbours plus a hashed normal scaled by
        sqrt(width)/2 and by the volatility factor at that midpoint. The coarse component is
        linear between block boundaries, so it is evaluated there only.
        """
        symbol = profile.symbol
        vol = self._volatility(symbol, first_block * _BLOCK, count * _BLOCK + 1)
        bridge = np.zeros((count, _BLOCK + 1))
        vol_grid = np.lib.stride_tricks.as_strided(
            vol,
            shape=(count, _BLOCK + 1),
            strides=(vol.strides[0] * _BLOCK, vol.strides[0]),
            writeable=False,
        )
        for level in range(_BRIDGE_LEVELS, 0, -1):
            width = 1 << level
            half = width >> 1
            per_block = _BLOCK >> level
            noise = normals(
                self._key(symbol, "bridge", level), first_block * per_block, count * per_block
            ).reshape(count, per_block)
            bridge[:, half::width] = (
                0.5 * (bridge[:, 0:-1:width] + bridge[:, width::width])
                + (0.5 * math.sqrt(width)) * noise * vol_grid[:, half::width]
            )
        coarse = self._coarse(profile, np.arange(first_block, first_block + count + 1))
        ramp = np.arange(_BLOCK) / _BLOCK
        trend = coarse[:-1, None] + (coarse[1:] - coarse[:-1])[:, None] * ramp
        log_price = np.empty(count * _BLOCK + 1)
        log_price[:-1] = (trend + profile.vol * bridge[:, :-1]).ravel()
        log_price[-1] = coarse[-1]
        return _Blocks(first_block * _BLOCK, math.log(profile.p0) + log_price, vol)

    def _block(self, profile: SymbolProfile, first_block: int, count: int) -> _Blocks:
        """`_blocks`, remembering each symbol's last single block.

        The live loop asks at every close for the one new minute of each symbol, and building
        that minute's whole 2048-minute block was most of the cost of a close. A remembered
        block is the result of the very same call, so candles are bit-identical with or
        without it. One block per symbol (two arrays of 2049 floats, ~33 KB) bounds the memory
        whatever the history asked; multi-block calls (backfills) are never kept.
        """
        if count != 1:
            return self._blocks(profile, first_block, count)
        cached = self._last_block.get(profile.symbol)
        if cached is not None and cached.first_minute == first_block * _BLOCK:
            return cached
        blocks = self._blocks(profile, first_block, 1)
        blocks.log_price.flags.writeable = False  # shared by later calls: never edited
        blocks.vol.flags.writeable = False
        self._last_block[profile.symbol] = blocks
        return blocks

    def _columns(self, symbol: str, first: int, count: int) -> dict[str, np.ndarray]:
        """`count` ≥ 1 1m candles from epoch minute `first`: epoch-ms `ts` and OHLCV arrays."""
        profile = self.profile(symbol)
        first_block = first // _BLOCK
        blocks = self._block(profile, first_block, (first + count) // _BLOCK - first_block + 1)
        lo = first - blocks.first_minute
        price = np.exp(blocks.log_price[lo : lo + count + 1])
        raw_open, raw_close = price[:-1], price[1:]
        sigma = profile.vol * blocks.vol[lo : lo + count]
        minutes = np.arange(first, first + count, dtype=np.int64)
        # One hash per minute, cut into three 21-bit uniforms: upper wick, lower wick, volume.
        bits = splitmix(self._key(symbol, "minute"), minutes)
        up, down, activity = (
            (((bits >> np.uint64(shift)) & np.uint64(0x1FFFFF)).astype(np.float64) + 0.5) * 2.0**-21
            for shift in (0, 21, 42)
        )
        # Wicks reach past the body by an exponential amount with mean 0.4 sigma.
        reach = 0.4 * sigma
        raw_high = np.maximum(raw_open, raw_close) * (1.0 - reach * np.log(up))
        raw_low = np.minimum(raw_open, raw_close) / (1.0 - reach * np.log(down))

        # Integer ticks, high/low rounded outward: the OHLC invariants survive rounding.
        scale = 10.0**profile.price_decimals
        open_t = np.maximum(np.rint(raw_open * scale), 1.0)
        close_t = np.maximum(np.rint(raw_close * scale), 1.0)
        high_t = np.maximum(np.ceil(raw_high * scale), np.maximum(open_t, close_t))
        low_t = np.maximum(np.minimum(np.floor(raw_low * scale), np.minimum(open_t, close_t)), 1.0)

        # Busy when volatile and when the candle moved; exponential noise from minute to minute.
        move = np.abs(raw_close - raw_open) / (raw_open * sigma)
        volume = profile.volume * (sigma / profile.vol) * (0.6 + 0.4 * move) * -np.log(activity)
        lots = 10.0**profile.amount_decimals
        return {
            "ts": minutes * MINUTE_MS,
            "open": open_t / scale,
            "high": high_t / scale,
            "low": low_t / scale,
            "close": close_t / scale,
            "volume": np.rint(volume * lots) / lots,
        }

    def _generate(self, symbols: list[str], first: int, count: int) -> pl.DataFrame:
        """`count` 1m candles of each symbol from epoch minute `first`, symbol after symbol.

        Each symbol's arrays are computed alone (the same arithmetic whoever else is asked
        for) and the frame is built once: a frame per symbol costs more than the minute's
        numbers themselves.
        """
        if count <= 0 or not symbols:
            for symbol in symbols:
                self.profile(symbol)  # a malformed name is an error even for an empty window
            return empty_candles()
        parts = [self._columns(symbol, first, count) for symbol in symbols]
        column = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        names = pl.Series("symbol", symbols, dtype=pl.String)
        ts = pl.Series("ts", column.pop("ts")).cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
        return pl.DataFrame(
            {"symbol": names.gather(np.repeat(np.arange(len(symbols)), count)), "ts": ts,
             **column},
            schema=CANDLE_SCHEMA,
        )  # fmt: skip

    # --- public surface ------------------------------------------------------------------

    def candles_1m(self, symbol: str, start_ms: int, end_ms: int) -> pl.DataFrame:
        """1m candles whose open time lies in [start_ms, end_ms), in the candle schema."""
        return self._generate([symbol], *_minute_span(start_ms, end_ms))

    def candle_rows(
        self, symbol: str, timeframe: Timeframe | str, start_ms: int, end_ms: int
    ) -> list[tuple[int, float, float, float, float, float]]:
        """`candles` as (epoch-ms open time, open, high, low, close, volume) tuples: what an
        API answer is made of. On 1m straight from the arrays, since building a frame only to
        take it apart again cost more than the minute's numbers (the emulator's klines)."""
        tf = parse_timeframe(timeframe)
        if tf.name != "1m":
            frame = self.candles(symbol, tf, start_ms, end_ms)
            ts = frame["ts"].dt.epoch("ms").to_list()
            return list(zip(ts, *(frame[c].to_list() for c in OHLCV), strict=True))
        first_ms = tf.ceil_ms(start_ms)
        first, count = _minute_span(first_ms, max(tf.ceil_ms(end_ms), first_ms))
        if count <= 0:
            self.profile(symbol)  # a malformed name is an error even for an empty window
            return []
        arrays = self._columns(symbol, first, count)
        return list(zip(arrays["ts"].tolist(), *(arrays[c].tolist() for c in OHLCV), strict=True))

    def candles(
        self,
        symbol: str,
        timeframe: Timeframe | str,
        start: datetime | int,
        end: datetime | int,
    ) -> pl.DataFrame:
        """Candles with open time in [start, end) on the timeframe's grid, each one whole.

        Higher timeframes are the 1m candles aggregated, so they agree with them exactly; every
        bucket is built from all of its minutes (the sim's market has no "forming" candle —
        whether one has closed yet is the exchange's business). `start` and `end` are
        datetimes or epoch milliseconds.
        """
        return self.candles_many([symbol], timeframe, start, end)

    def candles_many(
        self,
        symbols: Sequence[str],
        timeframe: Timeframe | str,
        start: datetime | int,
        end: datetime | int,
    ) -> pl.DataFrame:
        """`candles` of every symbol over one window, as one frame (in `symbols` order).

        Equal to concatenating `candles(symbol, …)` per symbol; the live loop asks for the
        minute that just closed of all its symbols at once.
        """
        tf = parse_timeframe(timeframe)
        start_ms = start if isinstance(start, int) else to_epoch_ms(start)
        end_ms = end if isinstance(end, int) else to_epoch_ms(end)
        first = tf.ceil_ms(start_ms)
        stop = max(tf.ceil_ms(end_ms), first)
        if tf.name == "1m":
            return self._generate(list(symbols), *_minute_span(first, stop))
        frames = [self._generate([symbol], *_minute_span(first, stop)) for symbol in symbols]
        return pl.concat(
            [resample_candles(f, "1m", tf, data_end=from_epoch_ms(stop)) if f.height else f
             for f in frames]
        ) if frames else empty_candles()  # fmt: skip

    def price_at(self, symbol: str, when: datetime | int) -> float:
        """The open of the 1m candle containing `when`: the sim's "current price" for fills."""
        when_ms = when if isinstance(when, int) else to_epoch_ms(when)
        return float(self._columns(symbol, when_ms // MINUTE_MS, 1)["open"][0])


OHLCV = ("open", "high", "low", "close", "volume")


def _minute_span(start_ms: int, end_ms: int) -> tuple[int, int]:
    """(first epoch minute, count) of the minutes opening in [start_ms, end_ms)."""
    first = -(-int(start_ms) // MINUTE_MS)
    stop = -(-int(end_ms) // MINUTE_MS)
    return first, stop - first
