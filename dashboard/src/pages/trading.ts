// Overview, positions, trades and bots: REST for the current state, WebSockets for changes.
import { useEffect, useState } from "preact/hooks";
import { api, qs } from "../api";
import { LiveEvent, LiveState, subscribe } from "../live";
import { Card, Status, fmt, html, sign, side, time, useAction, useApi } from "../ui";

function LiveBadge({ state }: { state: LiveState }) {
  return html`<span class=${`live ${state}`} data-testid="live-state">${state === "live" ? "● live" : state}</span>`;
}

/** Positions from REST overlaid with the /ws/positions snapshots received since the page
 * opened (kept apart, so a REST answer that lands after an event cannot hide it). */
function useLivePositions() {
  const state = useApi<{ positions: any[] }>("/api/v1/account/positions");
  const [live, setLive] = useState<LiveState>("connecting");
  const [updates, setUpdates] = useState<Record<string, any>>({});
  useEffect(
    () => subscribe("positions", (e: LiveEvent) => setUpdates((u) => ({ ...u, [`${e.data.bot_id}|${e.data.symbol}`]: e.data })), setLive),
    [],
  );
  const rows: any[] = [];
  const seen = new Set<string>();
  for (const p of state.data?.positions ?? []) {
    const key = `${p.bot_id}|${p.symbol}`;
    seen.add(key);
    rows.push(updates[key] ?? p);
  }
  for (const [key, p] of Object.entries(updates)) if (!seen.has(key)) rows.unshift(p);
  const merged = { ...state, data: state.data || Object.keys(updates).length ? { positions: rows.filter((p) => Number(p.quantity) !== 0) } : null };
  return { state: merged as typeof state, live };
}

/** Recent fills from REST with the ones /ws/trades delivered since the page opened on top. */
function useLiveTrades(limit: number) {
  const state = useApi<{ trades: any[] }>(`/api/v1/account/history${qs({ "page.page_size": limit })}`);
  const [live, setLive] = useState<LiveState>("connecting");
  const [fresh, setFresh] = useState<any[]>([]);
  useEffect(
    () => subscribe("trades", (e: LiveEvent) => e.kind === "fills" && setFresh((f) => [e.data, ...f].slice(0, limit)), setLive),
    [],
  );
  const ids = new Set(fresh.map((t) => t.id));
  const rows = [...fresh, ...(state.data?.trades ?? []).filter((t) => !ids.has(t.id))].slice(0, limit);
  const merged = { ...state, data: state.data || fresh.length ? { trades: rows } : null };
  return { state: merged as typeof state, live };
}

function PositionsTable({ rows }: { rows: any[] }) {
  if (!rows.length) return html`<p class="muted" data-testid="no-positions">No open positions.</p>`;
  return html`<div class="scroll"><table data-testid="positions-table">
    <thead><tr><th>Symbol</th><th>Qty</th><th>Entry</th><th>Mark</th><th>Unrealized P&L</th><th>Realized</th></tr></thead>
    <tbody>${rows.map(
      (p) => html`<tr data-testid="position-row">
        <td>${p.symbol}</td><td>${fmt(p.quantity, 8)}</td><td>${fmt(p.entry_price, 4)}</td><td>${fmt(p.mark_price, 4)}</td>
        <td class=${sign(p.unrealized_pnl)}>${fmt(p.unrealized_pnl)}</td><td class=${sign(p.realized_pnl)}>${fmt(p.realized_pnl)}</td>
      </tr>`,
    )}</tbody></table></div>`;
}

function TradesTable({ rows }: { rows: any[] }) {
  if (!rows.length) return html`<p class="muted" data-testid="no-trades">No trades yet.</p>`;
  return html`<div class="scroll"><table data-testid="trades-table">
    <thead><tr><th>Time</th><th>Symbol</th><th>Side</th><th>Qty</th><th>Price</th><th>Fee</th><th>P&L</th></tr></thead>
    <tbody>${rows.map(
      (t) => html`<tr data-testid="trade-row">
        <td>${time(t.executed_at)}</td><td>${t.symbol}</td><td class=${side(t.side)}>${side(t.side)}</td>
        <td>${fmt(t.quantity, 8)}</td><td>${fmt(t.price, 4)}</td><td>${fmt(t.fee, 6)}</td>
        <td class=${sign(t.realized_pnl)}>${fmt(t.realized_pnl)}</td>
      </tr>`,
    )}</tbody></table></div>`;
}

/** The equity curve as an inline SVG (no chart library for one line). */
function EquityChart({ points }: { points: { time: string; equity: string }[] }) {
  if (points.length < 2) return html`<p class="muted" data-testid="equity-empty">Not enough history for a curve yet.</p>`;
  const xs = points.map((p) => Number(p.time));
  const ys = points.map((p) => Number(p.equity));
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const W = 600, H = 180;
  const path = points
    .map((_, i) => `${((xs[i] - x0) / (x1 - x0 || 1)) * W},${H - ((ys[i] - y0) / (y1 - y0 || 1)) * (H - 10) - 5}`)
    .join(" ");
  return html`<svg class="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" data-testid="equity-chart" role="img"
      aria-label="Equity from ${fmt(y0)} to ${fmt(y1)}">
    <polyline points=${path} fill="none" stroke="currentColor" stroke-width="2" vector-effect="non-scaling-stroke" />
  </svg>
  <div class="axis"><span>${time(x0)}</span><span>${fmt(ys[0])} → ${fmt(ys[ys.length - 1])}</span><span>${time(x1)}</span></div>`;
}

function totals(amounts: { asset: string; value: string }[] | undefined): string {
  const held = (amounts ?? []).filter((a) => Number(a.value) !== 0);
  return held.length ? held.map((a) => `${fmt(a.value, 4)} ${a.asset}`).join(" · ") : "—";
}

export function Overview() {
  const balance = useApi<any>("/api/v1/account/balance");
  const stats = useApi<any>("/api/v1/account/stats");
  const perf = useApi<any>("/api/v1/account/performance");
  const { state: positions, live: posLive } = useLivePositions();
  const { state: trades, live } = useLiveTrades(10);
  const card = (s: any, v: () => any) => (s.error?.notAvailable ? "not available yet" : s.error ? "error" : s.data ? v() : "…");
  const activeTrades = positions.data ? positions.data.positions.filter((p) => Number(p.quantity) !== 0).length : null;
  return html`<section>
    <h1>Overview</h1>
    <div class="cards">
      <${Card} testid="card-balance" label=${balance.data?.equity_usd ? "Balance (USD)" : "Balance"}
        value=${card(balance, () => (balance.data.equity_usd ? fmt(balance.data.equity_usd) : totals(balance.data.total)))} />
      <${Card} testid="card-pnl" label="P&L" value=${card(stats, () => fmt(stats.data.total_pnl || stats.data.realized_pnl))} />
      <${Card} testid="card-winrate" label="Win rate" value=${card(stats, () => (stats.data.win_rate_pct ? `${fmt(stats.data.win_rate_pct, 1)}%` : "—"))} />
      <${Card} testid="card-active" label="Active trades" value=${activeTrades ?? card(positions, () => "—")} />
    </div>
    <h2>Equity</h2>
    <${Status} state=${perf} what="Equity curve" />
    ${perf.data ? html`<${EquityChart} points=${perf.data.equity_curve ?? []} />` : null}
    <h2>Positions <${LiveBadge} state=${posLive} /></h2>
    <${Status} state=${positions} what="Positions" />
    ${positions.data ? html`<${PositionsTable} rows=${positions.data.positions ?? []} />` : null}
    <h2>Recent trades <${LiveBadge} state=${live} /></h2>
    <${Status} state=${trades} what="Trades" />
    ${trades.data ? html`<${TradesTable} rows=${trades.data.trades ?? []} />` : null}
  </section>`;
}

export function Positions() {
  const { state, live } = useLivePositions();
  return html`<section>
    <h1>Positions <${LiveBadge} state=${live} /></h1>
    <${Status} state=${state} what="Positions" />
    ${state.data ? html`<${PositionsTable} rows=${state.data.positions ?? []} />` : null}
  </section>`;
}

export function Trades() {
  const { state, live } = useLiveTrades(50);
  return html`<section>
    <h1>Trades <${LiveBadge} state=${live} /></h1>
    <${Status} state=${state} what="Trades" />
    ${state.data ? html`<${TradesTable} rows=${state.data.trades ?? []} />` : null}
  </section>`;
}

export function Bots() {
  const status = useApi<any>("/api/v1/trading/status");
  const plugins = useApi<any>("/api/v1/plugins");
  const connections = useApi<any>("/api/v1/config/brokers");
  const [error, busy, run] = useAction();
  const strategies = (plugins.data?.plugins ?? []).filter((p: any) => p.kind === "strategy");
  const [form, setForm] = useState({ strategy: "", markets: "ETH/BTC", timeframe: "5m", paper: true, connection: "" });
  const { state: trades, live } = useLiveTrades(10);
  const strategy = form.strategy || strategies[0]?.name || "";
  const start = (e: Event) => {
    e.preventDefault();
    run(() =>
      api("POST", "/api/v1/trading/start", {
        strategy,
        markets: form.markets.split(",").map((m) => m.trim()).filter(Boolean),
        timeframe: form.timeframe,
        paper: form.paper,
        broker_connection_id: form.paper ? "" : form.connection,
      }),
    ).then((ok) => ok && status.reload());
  };
  const stop = (bot_id: string) => run(() => api("POST", "/api/v1/trading/stop", { bot_id })).then(() => status.reload());
  const emergency = () => {
    if (!confirm("Emergency stop: halt every bot now and cancel their open orders?")) return;
    run(() => api("POST", "/api/v1/trading/emergency-stop", {})).then(() => status.reload());
  };
  const bots: any[] = status.data?.bots ?? [];
  return html`<section>
    <h1>Bots</h1>
    ${status.data?.kill_switch_active ? html`<p class="banner warn" data-testid="kill-switch-on">The platform kill switch is on: no new orders.</p>` : null}
    <form class="panel" onSubmit=${start} data-testid="start-bot">
      <h2>Start a bot</h2>
      <label>Strategy <select value=${strategy} onChange=${(e: any) => setForm({ ...form, strategy: e.target.value })} data-testid="strategy">
        ${strategies.length ? strategies.map((s: any) => html`<option value=${s.name}>${s.name} ${s.version}</option>`) : html`<option value="">(no strategy plugin found)</option>`}
      </select></label>
      <label>Markets <input value=${form.markets} onInput=${(e: any) => setForm({ ...form, markets: e.target.value })} placeholder="BTC/USDT, ETH/USDT" data-testid="markets" /></label>
      <label>Timeframe <select value=${form.timeframe} onChange=${(e: any) => setForm({ ...form, timeframe: e.target.value })}>
        ${["1m", "5m", "15m", "1h", "4h", "1d"].map((t) => html`<option>${t}</option>`)}
      </select></label>
      <label class="inline"><input type="checkbox" checked=${form.paper} onChange=${(e: any) => setForm({ ...form, paper: e.target.checked })} data-testid="paper" /> Paper trading</label>
      ${form.paper ? null : html`<label>Broker connection <select value=${form.connection} onChange=${(e: any) => setForm({ ...form, connection: e.target.value })}>
        <option value="">choose…</option>
        ${(connections.data?.connections ?? []).map((c: any) => html`<option value=${c.id}>${c.exchange} ${c.api_key_masked}</option>`)}
      </select></label>`}
      <button disabled=${busy} data-testid="start">Start</button>
    </form>
    ${error ? html`<p class="error" role="alert" data-testid="bot-error">${error}</p>` : null}
    <h2>Your bots</h2>
    <${Status} state=${status} what="Bots" />
    ${status.data && !bots.length ? html`<p class="muted" data-testid="no-bots">No bots yet.</p>` : null}
    ${bots.length ? html`<div class="scroll"><table data-testid="bots-table">
      <thead><tr><th>Strategy</th><th>Markets</th><th>Mode</th><th>State</th><th>P&L</th><th></th></tr></thead>
      <tbody>${bots.map(
        (b) => html`<tr data-testid="bot-row">
          <td>${b.strategy}</td><td>${(b.markets ?? []).join(", ")}</td><td>${b.paper ? "paper" : "live"}</td>
          <td data-testid="bot-state">${b.state}${b.error ? html`<div class="hint">${b.error}</div>` : null}</td>
          <td class=${sign(b.realized_pnl)}>${fmt(b.realized_pnl)}</td>
          <td>${b.state === "running" ? html`<button class="small" onClick=${() => stop(b.id)}>Stop</button>` : null}</td>
        </tr>`,
      )}</tbody></table></div>` : null}
    <button class="danger" onClick=${emergency} disabled=${busy} data-testid="emergency-stop">Emergency stop</button>
    <h2>Live trades <${LiveBadge} state=${live} /></h2>
    <${Status} state=${trades} what="Trades" />
    ${trades.data ? html`<${TradesTable} rows=${trades.data.trades ?? []} />` : null}
  </section>`;
}
