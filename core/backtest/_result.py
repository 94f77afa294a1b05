"""What a backtest produces: trades, the equity curve and the performance metrics.

The account itself (cash, positions, fills, fees, P&L) is Decimal. The equity *curve* used
for the statistics (drawdown, Sharpe, Sortino, exposure) is float64, derived from the Decimal
fills: analytics, not accounting. ``final_equity`` is the Decimal account value.

Definitions
-----------
- total_return: final equity / initial cash - 1.
- cagr: (1 + total_return) ** (year / span) - 1, span from the first candle's open to the
  last candle's close; 365.25-day year.
- max_drawdown: largest fall from a running peak of the curve, as a fraction.
- sharpe, sortino: mean per-candle return over its standard deviation (sortino: over the
  downside deviation, sqrt(mean(min(r, 0)^2))), times sqrt(candles per year); risk-free 0.
- win_rate: share of closed trades with positive net P&L (after fees).
- profit_factor: gross net profit of winners / gross net loss of losers (null if no loser).
- exposure: share of candles (closes on the common time grid) with a position open.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

YEAR_MS = 365.25 * 24 * 3600 * 1000
MAX_CURVE_POINTS = 2000


def _f(x: float) -> float | None:
    """JSON-safe float (no NaN/inf)."""
    return float(x) if x is not None and math.isfinite(x) else None


@dataclass
class BacktestResult:
    strategy: str
    parameters: dict[str, Any]
    config: dict[str, Any]
    markets: list[dict[str, Any]]
    metrics: dict[str, Any]
    trades: list[dict[str, Any]]
    curve_ts: np.ndarray = field(repr=False)
    equity: np.ndarray = field(repr=False)
    drawdown: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        n = len(self.curve_ts)
        if n > MAX_CURVE_POINTS:
            # Evenly spaced points plus the deepest drawdown, so the plot keeps its worst moment.
            idx = np.unique(np.concatenate((np.linspace(0, n - 1, MAX_CURVE_POINTS).astype(np.int64),
                                            [int(np.argmax(self.drawdown))])))
        else:
            idx = np.arange(n)
        return {
            "strategy": self.strategy, "parameters": self.parameters, "config": self.config,
            "markets": self.markets, "metrics": self.metrics, "trades": self.trades,
            "equity_curve": {"ts": [int(t) for t in self.curve_ts[idx]],
                             "equity": [_f(x) for x in self.equity[idx]],
                             "drawdown": [_f(x) for x in self.drawdown[idx]]},
        }

    def to_json(self) -> str:
        """Deterministic JSON: same data and parameters give byte-identical text."""
        # No indent: json's C encoder only runs without one (5x faster on big results).
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n"

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``result.json`` and the self-contained ``report.html``; return their paths."""
        from ._report import render_html

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        j, h = out / "result.json", out / "report.html"
        j.write_text(self.to_json())
        h.write_text(render_html(self.to_dict()))
        return j, h

    def summary(self) -> str:
        m = self.metrics
        def pct(x):
            return "n/a" if x is None else f"{x * 100:.2f}%"
        def num(x):
            return "n/a" if x is None else f"{x:.3f}"
        syms = ", ".join(mk["symbol"] for mk in self.markets)
        return "\n".join([
            f"strategy {self.strategy} on {syms}: {sum(mk['candles'] for mk in self.markets)} candles",
            f"  final equity   {Decimal(m['final_equity']).quantize(Decimal('1e-8'))} (from {self.config['initial_cash']})",
            f"  total return   {pct(m['total_return'])}   CAGR {pct(m['cagr'])}",
            f"  max drawdown   {pct(m['max_drawdown'])}",
            f"  sharpe {num(m['sharpe'])}   sortino {num(m['sortino'])}",
            f"  trades {m['trades']}   win rate {pct(m['win_rate'])}   profit factor {num(m['profit_factor'])}",
            f"  exposure       {pct(m['exposure'])}   fees {Decimal(m['fees']).quantize(Decimal('1e-8'))}",
        ])


def _curve(bt) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if len(bt._m) == 1:
        grid = bt._m[0].data.ts
    else:
        # Sort + mask rather than np.unique: NumPy 2's hash-based unique is ~100x slower here.
        grid = np.sort(np.concatenate([mk.data.ts for mk in bt._m]))
        grid = grid[np.concatenate(([True], np.diff(grid) > 0))]
    cash = np.zeros(len(grid))
    if bt._cash_events:
        ev_ts = np.array([t for t, _ in bt._cash_events], dtype=np.int64)
        ev_v = np.array([v for _, v in bt._cash_events])
        np.add.at(cash, np.searchsorted(grid, ev_ts), ev_v)
    equity = float(bt.config.initial_cash) + np.cumsum(cash)
    held = np.zeros(len(grid), dtype=bool)
    for mk in bt._m:
        qty = np.cumsum(mk.qty_delta)
        # Float sums of Decimal quantities leave dust at zero; a position is flat when its
        # Decimal book says so, which the float cumsum matches to ~1e-12 relative.
        qty[np.abs(qty) < 1e-12 * max(1.0, float(np.max(np.abs(qty))) if len(qty) else 1.0)] = 0.0
        if grid is mk.data.ts:
            q, close = qty, mk.data.close
        else:  # carry each market's last candle forward over the common grid
            pos = np.searchsorted(mk.data.ts, grid, side="right") - 1
            ok = pos >= 0
            q = np.where(ok, qty[np.maximum(pos, 0)], 0.0)
            close = np.where(ok, mk.data.close[np.maximum(pos, 0)], 0.0)
        equity = equity + q * close
        held |= q != 0
    return grid, equity, held


def build_result(bt) -> BacktestResult:
    grid, equity, held = _curve(bt)
    peak = np.maximum.accumulate(equity)
    drawdown = np.where(peak > 0, 1.0 - equity / peak, 0.0)
    init = bt.config.initial_cash
    final = bt.portfolio.equity("backtest", {})  # everything is closed at the end
    total_return = float(final / init - 1)
    interval = int(np.median(np.diff(grid))) if len(grid) > 1 else 0
    span = float(grid[-1] - grid[0] + interval) if len(grid) else 0.0
    cagr = (1 + total_return) ** (YEAR_MS / span) - 1 if span > 0 and total_return > -1 else None
    rets = np.diff(equity) / equity[:-1] if len(equity) > 1 else np.zeros(0)
    per_year = YEAR_MS / interval if interval > 0 else 0.0
    sharpe = sortino = None
    if len(rets) > 1 and per_year:
        sd = float(np.std(rets, ddof=1))
        down = float(np.sqrt(np.mean(np.minimum(rets, 0.0) ** 2)))
        mean = float(np.mean(rets))
        sharpe = mean / sd * math.sqrt(per_year) if sd > 0 else None
        sortino = mean / down * math.sqrt(per_year) if down > 0 else None
    pnls = [t.pnl for t in bt.trades]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    gross_loss = -sum(losses, Decimal(0))
    metrics = {
        "initial_cash": str(init),
        "final_equity": str(final),
        "total_return": _f(total_return),
        "cagr": _f(cagr) if cagr is not None else None,
        "max_drawdown": _f(float(drawdown.max()) if len(drawdown) else 0.0),
        "sharpe": _f(sharpe) if sharpe is not None else None,
        "sortino": _f(sortino) if sortino is not None else None,
        "trades": len(bt.trades),
        "win_rate": _f(len(wins) / len(pnls)) if pnls else None,
        "profit_factor": _f(float(sum(wins, Decimal(0)) / gross_loss)) if gross_loss > 0 else None,
        "exposure": _f(float(np.mean(held))) if len(held) else 0.0,
        "fees": str(bt.portfolio.fees("backtest")),
        "net_pnl": str(final - init),
        "exit_reasons": {r: sum(1 for t in bt.trades if t.exit_reason == r)
                         for r in sorted({t.exit_reason for t in bt.trades})},
        "lookahead_columns_checked": bt.lookahead_checked,
    }
    fm = bt.config.fill_model
    config = {"initial_cash": str(init), "slippage_bps": str(fm.slippage_bps), "impact_bps": str(fm.impact_bps),
              "maker_fee_bps": str(fm.maker_fee_bps), "taker_fee_bps": str(fm.taker_fee_bps),
              "participation": None if fm.participation is None else str(fm.participation),
              "check_lookahead": bt.config.check_lookahead}
    markets = [{"symbol": mk.data.symbol, "source": mk.data.source, "candles": len(mk.data),
                "first_ts": int(mk.data.ts[0]), "last_ts": int(mk.data.ts[-1]), "interval_ms": mk.data.interval_ms,
                "gaps": mk.data.gaps(), "entry_signals": int(len(mk.entries)), "exit_signals": int(len(mk.exits))}
               for mk in bt._m]
    params = {k: v for k, v in bt.strategy.params.items()}
    trades = [t.to_json() for t in sorted(bt.trades, key=lambda t: (t.entry_ts, t.symbol))]
    return BacktestResult(bt.strategy.name, params, config, markets, metrics, trades, grid, equity, drawdown)
