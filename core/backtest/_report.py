"""The self-contained HTML report: metrics, equity curve and drawdown as inline SVG, trades.

No scripts, fonts or CDNs: the file opens offline and can be mailed around.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from html import escape
from typing import Any

W, H, PAD = 900, 260, 40


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def _polyline(ts: list[int], ys: list[float], color: str, title: str, fmt, invert: bool = False) -> str:
    if not ts:
        return ""
    t0, t1 = ts[0], ts[-1] if ts[-1] > ts[0] else ts[0] + 1
    lo, hi = min(ys), max(ys)
    if hi == lo:
        hi = lo + 1e-12
    def x(t):
        return PAD + (t - t0) / (t1 - t0) * (W - 2 * PAD)
    def y(v):
        frac = (v - lo) / (hi - lo)
        return PAD + (frac if invert else 1 - frac) * (H - 2 * PAD)
    pts = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(ts, ys))
    top, bottom = (lo, hi) if invert else (hi, lo)
    return (
        f'<svg viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="{escape(title)}">'
        f'<rect x="0" y="0" width="{W}" height="{H}" fill="#fff"/>'
        f'<text x="{PAD}" y="20" font-size="14">{escape(title)}</text>'
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#999"/>'
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" stroke="#999"/>'
        f'<text x="{PAD + 4}" y="{PAD + 12}" font-size="11">{escape(fmt(top))}</text>'
        f'<text x="{PAD + 4}" y="{H - PAD - 4}" font-size="11">{escape(fmt(bottom))}</text>'
        f'<text x="{PAD}" y="{H - 10}" font-size="11">{_when(ts[0])}</text>'
        f'<text x="{W - PAD}" y="{H - 10}" font-size="11" text-anchor="end">{_when(ts[-1])}</text>'
        f'<polyline fill="none" stroke="{color}" stroke-width="1.2" points="{pts}"/></svg>'
    )


_PERCENT = {"total_return", "cagr", "max_drawdown", "win_rate", "exposure"}


def _metric(name: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if name in _PERCENT:
        return f"{value * 100:.2f}%"
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items()) or "none"
    if isinstance(value, str) and "." in value:
        try:
            return f"{Decimal(value):.10g}"
        except ArithmeticError:
            return value
    return str(value)


def render_html(result: dict[str, Any], max_trades: int = 500) -> str:
    """The report for a result dict (:meth:`BacktestResult.to_dict`)."""
    m, curve = result["metrics"], result["equity_curve"]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(_metric(k, v))}</td></tr>" for k, v in sorted(m.items()))
    params = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>"
                     for k, v in sorted(result["parameters"].items()))
    markets = ", ".join(f"{escape(mk['symbol'])} ({mk['candles']} candles, {mk['gaps']} gaps)"
                        for mk in result["markets"])
    cols = ("symbol", "entry_ts", "entry_price", "exit_ts", "exit_price", "quantity", "pnl", "return_pct",
            "exit_reason", "bars")
    trades = result["trades"]
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_when(t[c]) if c.endswith('_ts') else str(t[c]))}</td>" for c in cols) + "</tr>"
        for t in trades[:max_trades])
    more = f"<p>… and {len(trades) - max_trades} more trades in result.json.</p>" if len(trades) > max_trades else ""
    equity = _polyline(curve["ts"], curve["equity"], "#1565c0", "Equity", lambda v: f"{v:,.4f}")
    dd = _polyline(curve["ts"], [-d for d in curve["drawdown"]], "#c62828", "Drawdown",
                   lambda v: f"{v * 100 + 0.0:.2f}%")  # + 0.0: no "-0.00%"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>NIJA backtest: {escape(result['strategy'])}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ddd;padding:3px 8px;text-align:left;font-size:13px}}th{{background:#f5f5f5}}</style>
</head><body>
<h1>Backtest: {escape(result['strategy'])}</h1>
<p>Markets: {markets}</p>
<h2>Equity and drawdown</h2>
{equity}
{dd}
<h2>Metrics</h2><table>{rows}</table>
<h2>Parameters</h2><table>{params}</table>
<h2>Trades ({len(trades)})</h2>
<table><tr>{''.join(f'<th>{c}</th>' for c in cols)}</tr>{body}</table>{more}
</body></html>
"""
