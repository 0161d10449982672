"""Candle validation: every rule, every violation, each named by symbol, time and rule.

Bad candles must never reach the store or a trade, and a person fixing a feed needs all the
problems at once, not the first one — so `validate_candles` returns every finding instead of
raising, and `ensure_valid` turns error-level findings into one `CandleValidationError`.
`gap` is only a warning: exchanges emit no candle for a minute without trades.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import polars as pl

from awan_trading.errors import CandleValidationError
from awan_trading.market.schema import NUMERIC_COLUMNS, PRICE_COLUMNS, to_candles
from awan_trading.market.timeframes import Timeframe, parse_timeframe

Severity = Literal["error", "warning"]

RULES: dict[str, Severity] = {
    "duplicate_ts": "error",
    "out_of_order": "error",
    "misaligned_ts": "error",
    "gap": "warning",
    "non_finite": "error",
    "non_positive_price": "error",
    "negative_volume": "error",
    "high_below_open_close": "error",
    "low_above_open_close": "error",
    "high_below_low": "error",
}

FINDINGS_SCHEMA = {
    "symbol": pl.String(),
    "ts": pl.Datetime("ms", "UTC"),
    "rule": pl.String(),
    "severity": pl.String(),
    "detail": pl.String(),
}


@dataclass(frozen=True)
class Finding:
    """One broken rule at one candle."""

    symbol: str
    ts: datetime
    rule: str
    severity: Severity
    detail: str

    def describe(self) -> str:
        return f"{self.symbol} {self.ts.isoformat()} {self.rule}: {self.detail}"

    def as_json(self) -> dict[str, str]:
        return {
            "symbol": self.symbol,
            "ts": self.ts.isoformat().replace("+00:00", "Z"),
            "rule": self.rule,
            "severity": self.severity,
            "detail": self.detail,
        }


def _fmt(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.String)


def _iso(expr: pl.Expr) -> pl.Expr:
    return expr.dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _with_previous_ts(candles: pl.DataFrame) -> pl.DataFrame:
    """Add `row`, `prev_row_ts` (previous row of the symbol) and `prev_sorted` (previous ts of
    the symbol in time order).

    Clean feeds are already grouped by symbol and sorted, and then both are plain shifts; the
    window and sort paths only run for frames that are not, so validation of good data stays
    a single linear pass.
    """
    frame = candles.with_row_index("row")
    same_symbol = pl.col("symbol") == pl.col("symbol").shift(1)
    contiguous = (
        frame.select((~same_symbol).fill_null(True).sum()).item() == frame["symbol"].n_unique()
    )
    if contiguous:
        prev_row = pl.when(same_symbol).then(pl.col("ts").shift(1))
    else:
        prev_row = pl.col("ts").shift(1).over("symbol")
    frame = frame.with_columns(prev_row_ts=prev_row)
    ordered = frame.select((pl.col("ts") < pl.col("prev_row_ts")).any()).item() is not True
    if ordered:
        return frame.with_columns(prev_sorted=pl.col("prev_row_ts"))
    prev_sorted = (
        frame.select("row", "symbol", "ts")
        .sort("symbol", "ts", "row")
        .select("row", prev_sorted=pl.col("ts").shift(1).over("symbol"))
    )
    return frame.join(prev_sorted, on="row", how="left").sort("row")


def _non_finite() -> pl.Expr:
    return pl.any_horizontal(
        [pl.col(c).is_null() | ~pl.col(c).is_finite() for c in NUMERIC_COLUMNS]
    )


def _checks(
    tf: Timeframe,
    ordered_duplicates: bool,
    prev_row_ts: pl.Expr | None = None,
    prev_sorted: pl.Expr | None = None,
) -> dict[str, tuple[pl.Expr, pl.Expr, bool]]:
    """rule → (check, detail, finite_only): the one definition of every rule.

    A `finite_only` rule is broken where its check holds on a row whose numbers are all
    finite (a NaN row is `non_finite`, not also five other things): `_rules` adds that guard.
    By default the expressions read a frame from `_with_previous_ts` (its `prev_row_ts` and
    `prev_sorted` columns); `_error_checks` passes those two as expressions instead, so the
    same checks run straight on the candles in one query.
    """
    prev_row_ts = pl.col("prev_row_ts") if prev_row_ts is None else prev_row_ts
    prev_sorted = pl.col("prev_sorted") if prev_sorted is None else prev_sorted
    max_oc = pl.max_horizontal("open", "close")
    min_oc = pl.min_horizontal("open", "close")
    is_gap = tf.gap_expr(prev_sorted, pl.col("ts"))
    missing = tf.missing_between_expr(prev_sorted, pl.col("ts"))
    duplicate = (
        pl.col("ts") == prev_row_ts
        if ordered_duplicates
        else ~pl.struct("symbol", "ts").is_first_distinct()
    )
    return {
        "duplicate_ts": (
            duplicate.fill_null(False),
            pl.lit("another candle of this symbol has the same ts"),
            False,
        ),
        "out_of_order": (
            pl.col("ts") < prev_row_ts,
            pl.lit("ts is earlier than the previous row's ") + _iso(prev_row_ts),
            False,
        ),
        "misaligned_ts": (
            tf.misaligned_expr(pl.col("ts")),
            pl.lit(f"ts is not on the {tf} grid"),
            False,
        ),
        "gap": (
            is_gap,
            pl.lit("missing ")
            + missing.cast(pl.String)
            + pl.lit(f" {tf} candle(s) after ")
            + _iso(prev_sorted),
            False,
        ),
        "non_finite": (
            _non_finite(),
            pl.concat_str(
                [
                    pl.when(pl.col(c).is_null() | ~pl.col(c).is_finite()).then(
                        pl.lit(f"{c}=") + _fmt(c).fill_null("null")
                    )
                    for c in NUMERIC_COLUMNS
                ],
                separator=" ",
                ignore_nulls=True,
            ),
            False,
        ),
        "non_positive_price": (
            pl.any_horizontal([pl.col(c) <= 0 for c in PRICE_COLUMNS]),
            pl.concat_str(
                [pl.when(pl.col(c) <= 0).then(pl.lit(f"{c}=") + _fmt(c)) for c in PRICE_COLUMNS],
                separator=" ",
                ignore_nulls=True,
            ),
            True,
        ),
        "negative_volume": (pl.col("volume") < 0, pl.lit("volume=") + _fmt("volume"), True),
        "high_below_open_close": (
            pl.col("high") < max_oc,
            pl.lit("high=")
            + _fmt("high")
            + pl.lit(" < max(open, close)=")
            + max_oc.cast(pl.String),
            True,
        ),
        "low_above_open_close": (
            pl.col("low") > min_oc,
            pl.lit("low=") + _fmt("low") + pl.lit(" > min(open, close)=") + min_oc.cast(pl.String),
            True,
        ),
        "high_below_low": (
            pl.col("high") < pl.col("low"),
            pl.lit("high=") + _fmt("high") + pl.lit(" < low=") + _fmt("low"),
            True,
        ),
    }


def _rules(tf: Timeframe, ordered_duplicates: bool) -> dict[str, tuple[pl.Expr, pl.Expr]]:
    """rule → (condition, detail) over a frame from `_with_previous_ts`: `_checks` with each
    `finite_only` check guarded by "every number of the row is finite"."""
    finite = ~_non_finite()
    return {
        rule: ((finite & check) if finite_only else check, detail)
        for rule, (check, detail, finite_only) in _checks(tf, ordered_duplicates).items()
    }


def findings_frame(frame: pl.DataFrame, timeframe: Timeframe | str) -> pl.DataFrame:
    """All findings as a polars frame (symbol, ts, rule, severity, detail), in row order.

    One pass computes every rule's flag, and details are formatted only for the (usually
    few) flagged rows. The `Finding` list from `validate_candles` is for people and small
    frames; `ensure_valid` builds this frame only when `_error_free` finds an error.
    """
    tf = parse_timeframe(timeframe)
    candles = to_candles(frame, source="candles")
    if candles.is_empty():
        return pl.DataFrame(schema=FINDINGS_SCHEMA)
    prepared = _with_previous_ts(candles)
    ordered = (
        prepared.select((pl.col("prev_row_ts") == pl.col("prev_sorted")).all()).item() is not False
    )
    rules = _rules(tf, ordered_duplicates=ordered)
    flagged = prepared.with_columns(
        [condition.fill_null(False).alias(f"flag_{rule}") for rule, (condition, _) in rules.items()]
    ).filter(pl.any_horizontal([pl.col(f"flag_{rule}") for rule in rules]))
    if flagged.is_empty():
        return pl.DataFrame(schema=FINDINGS_SCHEMA)
    per_rule = [
        flagged.filter(pl.col(f"flag_{rule}")).select(
            "row", "symbol", "ts", pl.lit(rule).alias("rule"), detail.alias("detail")
        )
        for rule, (_, detail) in rules.items()
    ]
    rule_order = pl.col("rule").replace_strict(
        {r: i for i, r in enumerate(RULES)}, return_dtype=pl.Int32
    )
    severity = pl.col("rule").replace_strict(RULES, return_dtype=pl.String).alias("severity")
    return (
        pl.concat(per_rule)
        .sort("row", rule_order)
        .select("symbol", "ts", "rule", severity, "detail")
    )


ERROR_RULES: tuple[str, ...] = tuple(rule for rule, sev in RULES.items() if sev == "error")
_SAME_SYMBOL = pl.col("symbol") == pl.col("symbol").shift(1)


@functools.cache
def _error_checks(tf: Timeframe, grouped: bool) -> tuple[pl.Expr, ...]:
    """`_checks` of every error rule as `.any()` over the candles themselves, plus (for
    `grouped`) whether the rows are grouped by symbol. Built once per timeframe: composing
    the expressions costs ~0.5 ms of Python, as much as running them on a few rows.

    `prev_row_ts` (the previous row of the same symbol: a shift when the rows are grouped, a
    window when not) also stands for `prev_sorted`, which is only right when no row steps back
    in time — and where one does, `out_of_order` is True, so "no error" is never read from a
    wrong stand-in. The `finite_only` guards are left out: a guarded check can only differ
    from its rule on a row `non_finite` flags anyway, so whether ANY error holds is unchanged.
    """
    prev_row_ts = (
        pl.when(_SAME_SYMBOL).then(pl.col("ts").shift(1))
        if grouped
        else pl.col("ts").shift(1).over("symbol")
    )
    checks = _checks(tf, ordered_duplicates=True, prev_row_ts=prev_row_ts, prev_sorted=prev_row_ts)
    flags = tuple(checks[rule][0].any().alias(rule) for rule in ERROR_RULES)
    if not grouped:
        return flags
    runs = (~_SAME_SYMBOL).fill_null(True).sum()
    return (*flags, (runs == pl.col("symbol").n_unique()).alias("grouped"))


def _error_free(candles: pl.DataFrame, tf: Timeframe) -> bool:
    """Whether `candles` (non-empty, in the candle schema) break no error-level rule.

    The answer equals "`findings_frame` has no error row" (see `_error_checks`), but the
    common case — clean candles grouped by symbol and time-sorted, as every exchange page and
    the live feed's window tails are — takes one `select` instead of the ~10 queries that
    build the findings frame. Validating a 4-symbol close of 8 rows took 3.3 ms (p50) that
    way on a 2-core box, now ~0.5 ms, nearly all of it fixed per-query and per-expression
    cost, paid twice per close (each fetched page, then the feed's tail check). Interleaved
    symbols take a second `select`, with each symbol's previous row found by a window.
    """
    *flags, grouped = candles.select(*_error_checks(tf, grouped=True)).row(0)
    if not grouped:
        flags = list(candles.select(*_error_checks(tf, grouped=False)).row(0))
    return not any(flags)


def validate_candles(frame: pl.DataFrame, timeframe: Timeframe | str) -> list[Finding]:
    """Every violation of every rule in `frame`, in row order (errors and warnings)."""
    return [Finding(**row) for row in findings_frame(frame, timeframe).iter_rows(named=True)]


def ensure_valid(
    frame: pl.DataFrame, timeframe: Timeframe | str, *, context: str = "candles"
) -> pl.DataFrame:
    """Return the frame in the candle schema, or raise `CandleValidationError` on any error.

    Warnings (gaps) pass: a sparse market is not bad data. Clean candles are recognised by
    `_error_free` in one query; the findings (and the error naming each) are built only when
    something is wrong.
    """
    candles = to_candles(frame, source=context)
    tf = parse_timeframe(timeframe)
    if candles.is_empty() or _error_free(candles, tf):
        return candles
    findings = findings_frame(candles, tf)
    errors = findings.filter(pl.col("severity") == "error")
    if not errors.is_empty():
        raise CandleValidationError(
            [Finding(**r) for r in errors.iter_rows(named=True)], context=context
        )
    return candles
