"""Paper trading: real market data from a ccxt exchange, fills simulated by the sim's rules.

Paper mode answers "what would this strategy do on the real market today" without risking
money, so its fills must follow the same model the backtests and the sim exchange use —
otherwise paper results would measure a different fill model, not the strategy. Rather than
copying that model, `PaperExchange` *is* a `SimExchange` whose market data source is the real
venue: `VenueMarketData` offers the three things the fill model reads from `SimMarket`
(a symbol's precision, the current price, closed candles for matching resting orders —
limits, stop_loss_limit sells, OCO sells) from ccxt, so paper fills follow exactly the sim's
rules (`execution.fills`) on real prices. Candles, tickers and markets are the venue's own.

Balances live in the store the same way fills do: the executor records every fill, and a
paper account restarted later starts from its configured balance plus those fills
(`sim_account.balances_from_fills`), so no paper balance exists only in memory; a process
that places orders rebuilds its resting orders from the store too (`sim_account`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import polars as pl

from awan_trading.errors import DataError
from awan_trading.exchange.base import Market, Ticker
from awan_trading.exchange.ccxt_exchange import CcxtExchange
from awan_trading.exchange.errors import InvalidOrder
from awan_trading.exchange.sim import SimExchange
from awan_trading.exchange.sim_account import balances_from_fills
from awan_trading.exchange.sim_market import SymbolProfile
from awan_trading.market.schema import empty_candles
from awan_trading.market.timeframes import Timeframe, from_epoch_ms


def _decimals(increment: float) -> int:
    """Decimal places of a tick/lot step (0.01 → 2, 1 → 0); the sim rounds on this grid."""
    return max(0, round(-math.log10(increment))) if increment > 0 else 8


class VenueMarketData:
    """The `SimMarket` surface the sim fill model reads, served by a real venue."""

    def __init__(self, venue: CcxtExchange) -> None:
        self.venue = venue

    def profile(self, symbol: str) -> SymbolProfile:
        """Precision and minimums from the venue's market; the price-process fields of
        `SymbolProfile` (p0, vol, volume) describe the sim's synthetic market and are not
        read by the fill model, so they are left at zero."""
        market = self.venue.markets().get(symbol)
        if market is None:
            raise DataError(f"{self.venue.name}: unknown or untradeable symbol {symbol!r}")
        return SymbolProfile(
            symbol=symbol,
            base=market.base,
            quote=market.quote,
            p0=0.0,
            vol=0.0,
            volume=0.0,
            price_decimals=_decimals(market.price_increment),
            amount_decimals=_decimals(market.amount_increment),
            min_notional=market.min_notional,
        )

    def price_at(self, symbol: str, when: datetime | int) -> float:
        """The venue's last traded price (the fill model only asks about "now")."""
        return self.venue.fetch_ticker(symbol).last

    def candles_1m(self, symbol: str, start_ms: int, end_ms: int) -> pl.DataFrame:
        """Closed 1m candles on a gap-free minute grid: a minute without trades repeats the
        previous close, because the fill model indexes candles by minute."""
        frame = self.venue.fetch_ohlcv(symbol, "1m", from_epoch_ms(start_ms), from_epoch_ms(end_ms))
        if frame.is_empty():
            return empty_candles()
        span = pl.datetime_range(frame["ts"].min(), frame["ts"].max(), "1m", eager=True)
        grid = pl.DataFrame({"ts": span.cast(frame.schema["ts"])})  # the venue's time unit
        filled = grid.join(frame, on="ts", how="left").with_columns(
            pl.col("close").forward_fill(), pl.lit(symbol).alias("symbol")
        )
        filled = filled.with_columns(
            *[pl.col(c).fill_null(pl.col("close")) for c in ("open", "high", "low")],
            pl.col("volume").fill_null(0.0),
        )
        return filled.select(frame.columns)

    def candles(
        self, symbol: str, timeframe: Timeframe, start_ms: int, end_ms: int
    ) -> pl.DataFrame:
        """Closed candles of a higher match timeframe, as the venue reports them (a resting
        order is judged on whatever candles exist; a missing one judges nothing)."""
        return self.venue.fetch_ohlcv(
            symbol, timeframe, from_epoch_ms(start_ms), from_epoch_ms(end_ms)
        )


class PaperExchange(SimExchange):
    """A paper account on a real venue: the venue's data, the sim's fills and balances."""

    threadsafe_reads = True  # candles come from the ccxt venue (`CcxtExchange`'s note)

    def __init__(
        self,
        venue: CcxtExchange,
        *,
        slippage_bps: float = 0.0,
        balances: dict[str, float] | None = None,
        match_timeframe: Timeframe | str = "1m",
    ) -> None:
        self.venue = venue
        self._venue_markets = venue.markets()
        self._booting = True
        super().__init__(
            VenueMarketData(venue),  # type: ignore[arg-type]  (duck-types SimMarket)
            slippage_bps=slippage_bps,
            balances=balances,
            clock=venue.now,
            match_timeframe=match_timeframe,
        )
        self._booting = False
        self.name = f"paper:{venue.name}"

    def market(self, symbol: str) -> Market:
        """The venue's rules and fees (the fill model charges the venue's real fees)."""
        market = self._venue_markets.get(symbol)
        if market is None:
            if self._booting:
                # SimExchange preloads its own default symbols; a venue need not list them.
                return None  # type: ignore[return-value]
            raise InvalidOrder(f"{self.name}: unknown or untradeable symbol {symbol!r}")
        return market

    def markets(self) -> dict[str, Market]:
        return dict(self._venue_markets)

    def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: Timeframe | str,
        start: datetime,
        end: datetime,
        *,
        validate: bool = True,
    ) -> pl.DataFrame:
        return self.venue.fetch_ohlcv(symbol, timeframe, start, end, validate=validate)

    def fetch_ohlcv_many(
        self, symbols: Sequence[str], timeframe: Timeframe | str, start: datetime, end: datetime
    ) -> pl.DataFrame:
        """The venue's candles, symbol by symbol (the sim's one-call batch would be the sim's
        market, not the venue's)."""
        frames = [self.venue.fetch_ohlcv(s, timeframe, start, end) for s in symbols]
        frames = [f for f in frames if f.height]
        return pl.concat(frames) if frames else empty_candles()

    def fetch_ticker(self, symbol: str) -> Ticker:
        return self.venue.fetch_ticker(symbol)

    def first_candle_at(
        self, symbol: str, timeframe: Timeframe | str, since: datetime
    ) -> datetime | None:
        """The venue's answer: paper accounts see exactly the venue's candles."""
        return self.venue.first_candle_at(symbol, timeframe, since)


__all__ = ["PaperExchange", "VenueMarketData", "balances_from_fills"]
