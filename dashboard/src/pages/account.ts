// Settings (risk limits), broker connections and the subscription.
import { useEffect, useState } from "preact/hooks";
import { api } from "../api";
import { Status, fmt, html, time, useAction, useApi } from "../ui";

export function Settings() {
  const settings = useApi<any>("/api/v1/config/settings");
  const risk = useApi<any>("/api/v1/risk/state");
  const [form, setForm] = useState<any>(null);
  const [saved, setSaved] = useState(false);
  const [error, busy, run] = useAction();
  useEffect(() => {
    if (settings.data) setForm({ ...settings.data, allowed_pairs: (settings.data.allowed_pairs ?? []).join(", ") });
  }, [settings.data]);
  const save = (e: Event) => {
    e.preventDefault();
    setSaved(false);
    run(async () => {
      const body = {
        max_position_size: String(form.max_position_size),
        max_concurrent_positions: Number(form.max_concurrent_positions),
        max_daily_loss_pct: String(form.max_daily_loss_pct),
        risk_level: form.risk_level,
        allowed_pairs: String(form.allowed_pairs).split(",").map((s: string) => s.trim()).filter(Boolean),
        notifications_enabled: !!form.notifications_enabled,
        ...(form.max_daily_loss_usd !== undefined ? { max_daily_loss_usd: String(form.max_daily_loss_usd) } : {}),
      };
      await api("PUT", "/api/v1/config/settings", body);
      settings.reload();
      setSaved(true);
    });
  };
  const field = (name: string) => ({ value: form?.[name] ?? "", onInput: (e: any) => setForm({ ...form, [name]: e.target.value }) });
  return html`<section>
    <h1>Settings</h1>
    <${Status} state=${settings} what="Settings" />
    ${form ? html`<form class="panel" onSubmit=${save} data-testid="settings-form">
      <h2>Risk limits</h2>
      <label>Max position size (USD) <input inputmode="decimal" ...${field("max_position_size")} /></label>
      <label>Max concurrent positions <input type="number" min="1" ...${field("max_concurrent_positions")} /></label>
      <label>Max daily loss (%) <input inputmode="decimal" ...${field("max_daily_loss_pct")} /></label>
      ${form.max_daily_loss_usd !== undefined
        ? html`<label>Max daily loss (USD, 0 = no cap) <input inputmode="decimal" ...${field("max_daily_loss_usd")} /></label>` : null}
      <label>Risk level <select value=${form.risk_level} onChange=${(e: any) => setForm({ ...form, risk_level: e.target.value })}>
        ${["low", "medium", "high"].map((l) => html`<option>${l}</option>`)}</select></label>
      <label>Allowed pairs (empty = all) <input ...${field("allowed_pairs")} placeholder="BTC/USDT, ETH/USDT" /></label>
      <label class="inline"><input type="checkbox" checked=${!!form.notifications_enabled}
        onChange=${(e: any) => setForm({ ...form, notifications_enabled: e.target.checked })} /> Notifications</label>
      <button disabled=${busy}>Save</button>
      ${saved ? html`<span class="ok" data-testid="saved">Saved.</span>` : null}
    </form>` : null}
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
    <h2>Risk state today</h2>
    <${Status} state=${risk} what="Risk state" />
    ${risk.data ? html`<div class="scroll"><table>
      <thead><tr><th>Limit</th><th>Used</th><th>Of</th></tr></thead>
      <tbody>${(risk.data.limits ?? []).map((l: any) => html`<tr><td>${l.name}</td><td>${l.used}</td><td>${l.limit}</td></tr>`)}</tbody>
    </table></div>
    <p class="muted">Drawdown ${fmt(risk.data.drawdown_pct)}% · plan ${risk.data.plan || "—"}
      ${risk.data.global_kill_switch ? " · platform kill switch ON" : ""}${risk.data.user_kill_switch ? " · your kill switch ON" : ""}</p>` : null}
  </section>`;
}

export function Brokers() {
  const list = useApi<any>("/api/v1/config/brokers");
  const [form, setForm] = useState({ broker: "ccxt", exchange: "binance", api_key: "", api_secret: "", passphrase: "" });
  const [error, busy, run] = useAction();
  const add = (e: Event) => {
    e.preventDefault();
    run(() => api("POST", "/api/v1/config/brokers", form)).then((ok) => {
      if (ok) setForm({ ...form, api_key: "", api_secret: "", passphrase: "" });
      list.reload();
    });
  };
  const remove = (id: string) => {
    if (confirm("Delete this connection? Its keys are destroyed.")) run(() => api("DELETE", `/api/v1/config/brokers/${id}`)).then(list.reload);
  };
  const input = (name: keyof typeof form, type = "text") =>
    html`<input type=${type} autocomplete="off" value=${form[name]} onInput=${(e: any) => setForm({ ...form, [name]: e.target.value })} />`;
  return html`<section>
    <h1>Broker connections</h1>
    <${Status} state=${list} what="Broker connections" />
    ${list.data ? ((list.data.connections ?? []).length
      ? html`<div class="scroll"><table data-testid="brokers-table"><thead><tr><th>Exchange</th><th>API key</th><th>Added</th><th></th></tr></thead>
        <tbody>${list.data.connections.map((c: any) => html`<tr><td>${c.exchange} (${c.broker})</td><td><code>${c.api_key_masked}</code></td>
          <td>${time(c.created_at)}</td><td><button class="small" onClick=${() => remove(c.id)}>Delete</button></td></tr>`)}</tbody></table></div>`
      : html`<p class="muted">No connections. Paper trading needs none.</p>`) : null}
    <form class="panel" onSubmit=${add}>
      <h2>Add exchange keys</h2>
      <label>Exchange <select value=${form.exchange} onChange=${(e: any) => setForm({ ...form, exchange: e.target.value })}>
        ${["binance", "coinbase", "kraken", "okx", "alpaca"].map((x) => html`<option>${x}</option>`)}</select></label>
      <label>API key ${input("api_key")}</label>
      <label>API secret ${input("api_secret", "password")}</label>
      <label>Passphrase (if the exchange has one) ${input("passphrase", "password")}</label>
      <button disabled=${busy}>Add</button>
      <p class="hint">Keys are stored encrypted and never shown again; only the last characters are listed.</p>
    </form>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
  </section>`;
}

export function Subscription() {
  const current = useApi<any>("/api/v1/subscription/current");
  const usage = useApi<any>("/api/v1/subscription/usage");
  const plans = useApi<any>("/api/v1/subscription/plans");
  const [error, busy, run] = useAction();
  const [note, setNote] = useState<string | null>(null);
  const upgrade = (plan: string) =>
    run(async () => {
      const result: any = await api("POST", "/api/v1/subscription/upgrade", { plan, interval: "month" });
      if (result?.checkout_url) location.assign(result.checkout_url);
      setNote(`Plan change requested: ${result?.plan ?? plan} (${result?.status ?? "pending"}).`);
      current.reload();
    });
  return html`<section>
    <h1>Subscription</h1>
    <${Status} state=${current} what="Subscription" />
    ${current.data ? html`<p data-testid="plan">Plan <strong>${current.data.plan}</strong> · ${current.data.status}
      ${Number(current.data.trial_end) ? ` · trial until ${time(current.data.trial_end)}` : ""}
      ${Number(current.data.current_period_end) ? ` · renews ${time(current.data.current_period_end)}` : ""}</p>` : null}
    <h2>Usage</h2>
    <${Status} state=${usage} what="Usage" />
    ${usage.data ? html`<ul class="usage">${(usage.data.items ?? []).map((u: any) => {
      const pct = Number(u.limit) > 0 ? Math.min(100, (Number(u.used) / Number(u.limit)) * 100) : 0;
      return html`<li><span>${u.name}</span><progress max="100" value=${pct}></progress><span>${u.used} / ${Number(u.limit) > 0 ? u.limit : "∞"}</span></li>`;
    })}</ul>` : null}
    <h2>Plans</h2>
    <${Status} state=${plans} what="Plans" />
    <div class="cards">${(plans.data?.plans ?? []).map(
      (p: any) => html`<div class="card">
        <div class="label">${p.name}</div><div class="value">$${fmt(p.price_month_usd)}<small>/mo</small></div>
        <ul class="hint">${Object.entries(p.limits ?? {}).map(([k, v]) => html`<li>${k}: ${v}</li>`)}</ul>
        ${current.data?.plan === p.id ? html`<span class="ok">current</span>` : html`<button class="small" disabled=${busy} onClick=${() => upgrade(p.id)}>Choose</button>`}
      </div>`,
    )}</div>
    ${note ? html`<p class="ok">${note}</p>` : null}
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
  </section>`;
}
