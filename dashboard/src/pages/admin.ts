// Admin pages (shown to the admin role; the API refuses everyone else with 403 anyway).
import { useState } from "preact/hooks";
import { api, qs } from "../api";
import { Card, Status, html, time, useAction, useApi } from "../ui";

const PLANS = ["free", "basic", "pro", "enterprise"];

/** One user's picture: plan (and override), risk limits and today's counters, bots. */
function UserDetail({ id, onChange }: { id: string; onChange: () => void }) {
  const detail = useApi<any>(`/api/v1/admin/users/${id}`);
  const [error, busy, run] = useAction();
  const d = detail.data;
  const setPlan = (plan_override: string) =>
    run(() => api("PUT", `/api/v1/admin/users/${id}`, { plan_override })).then(() => (detail.reload(), onChange()));
  return html`<div class="panel wide" data-testid="user-detail">
    <${Status} state=${detail} what="User" />
    ${d ? html`<h2>${d.user.email}</h2>
      <p>Plan <strong data-testid="user-plan">${d.plan}</strong>${d.plan_override ? " (set by an admin)" : ""}</p>
      <label>Plan override <select value=${d.plan_override || "none"} disabled=${busy} onChange=${(e: any) => setPlan(e.target.value)} data-testid="plan-override">
        <option value="none">none (billing decides)</option>${PLANS.map((p) => html`<option value=${p}>${p}</option>`)}</select></label>
      <p class="muted">Risk limits: max position ${d.risk_settings?.max_position_size} USD · ${d.risk_settings?.max_concurrent_positions} positions ·
        daily loss ${d.risk_settings?.max_daily_loss_pct}% · ${d.risk_settings?.risk_level}</p>
      ${d.risk_state ? html`<p class="muted">Today: ${d.risk_state.trades_today ?? 0} trades · P&L ${d.risk_state.realized_pnl_today} ·
        ${d.risk_state.open_positions ?? 0} open${d.risk_state.kill_switch ? " · kill switch ON" : ""}</p>` : html`<p class="muted">No risk activity recorded.</p>`}
      <p class="muted">Bots: ${(d.bots ?? []).length ? d.bots.map((b: any) => `${b.strategy} (${b.state})`).join(", ") : "none"}</p>
      ${(d.unavailable ?? []).map((u: string) => html`<p class="na">${u}</p>`)}` : null}
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
  </div>`;
}

export function AdminUsers() {
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  const [pages, setPages] = useState<string[]>([""]);
  const token = pages[pages.length - 1];
  const list = useApi<any>(`/api/v1/admin/users${qs({ email_contains: query, "page.page_size": 20, "page.page_token": token })}`);
  const [error, busy, run] = useAction();
  const [open, setOpen] = useState<string | null>(null);
  const act = (fn: () => Promise<unknown>) => run(fn).then(list.reload);
  return html`<section>
    <h1>Users</h1>
    <form class="row" onSubmit=${(e: Event) => (e.preventDefault(), setQuery(search), setPages([""]))}>
      <input type="search" placeholder="search by email" value=${search} onInput=${(e: any) => setSearch(e.target.value)} data-testid="user-search" />
      <button>Search</button>
    </form>
    <${Status} state=${list} what="Users" />
    ${list.data ? html`<p class="muted">${list.data.page?.total_size ?? 0} users</p>
    <div class="scroll"><table data-testid="users-table">
      <thead><tr><th>Email</th><th>Roles</th><th>Created</th><th>Status</th><th></th></tr></thead>
      <tbody>${(list.data.users ?? []).map(
        (u: any) => html`<tr data-testid="user-row">
          <td><a href="javascript:void 0" onClick=${() => setOpen(open === u.id ? null : u.id)}>${u.email}</a></td><td>${(u.roles ?? []).join(", ")}</td><td>${time(u.created_at)}</td>
          <td>${Number(u.deleted_at) ? "deleted" : u.disabled ? "disabled" : "active"}</td>
          <td class="actions">
            <button class="small" disabled=${busy} onClick=${() => act(() => api("PUT", `/api/v1/admin/users/${u.id}`, { disabled: !u.disabled }))}>${u.disabled ? "Enable" : "Disable"}</button>
            <button class="small danger" disabled=${busy} onClick=${() => confirm(`Delete ${u.email}? Bots stop, keys are destroyed, trades are kept.`) && act(() => api("DELETE", `/api/v1/admin/users/${u.id}`))}>Delete</button>
          </td>
        </tr>`,
      )}</tbody></table></div>
    <div class="row">
      <button class="small" disabled=${pages.length < 2} onClick=${() => setPages(pages.slice(0, -1))}>Previous</button>
      <button class="small" disabled=${!list.data.page?.next_page_token} onClick=${() => setPages([...pages, list.data.page.next_page_token])}>Next</button>
    </div>` : null}
    ${open ? html`<${UserDetail} id=${open} onChange=${list.reload} />` : null}
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
  </section>`;
}

export function AdminConsole() {
  const metrics = useApi<any>("/api/v1/admin/metrics");
  const [reason, setReason] = useState("");
  const [state, setState] = useState<any>(null);
  const [error, busy, run] = useAction();
  const toggle = (active: boolean) =>
    run(async () => setState(await api("POST", "/api/v1/admin/kill-switch", { active, reason }))).then(metrics.reload);
  const m = metrics.data;
  const value = (name: string) => (m && name in m ? m[name] : "not available yet");
  return html`<section>
    <h1>Platform</h1>
    <${Status} state=${metrics} what="Metrics" />
    ${m ? html`<div class="cards">
      <${Card} testid="m-users" label="Users" value=${m.users} hint=${`${m.disabled_users ?? 0} disabled`} />
      <${Card} testid="m-bots" label="Active bots" value=${value("active_bots")} />
      <${Card} testid="m-orders" label="Orders today" value=${value("orders_today")} />
      <${Card} testid="m-fills" label="Fills today" value=${value("fills_today")} />
    </div>
    <h2>Health</h2>
    <ul class="health">${Object.entries(m.service_health ?? {}).sort().map(
      ([k, v]) => html`<li class=${v === "ok" ? "ok" : "warn"}><span>${k}</span><span>${v}</span></li>`,
    )}</ul>
    <h2>Calls (this server process)</h2>
    <div class="scroll"><table><thead><tr><th>Service</th><th>Requests</th><th>Errors</th><th>Rejected</th><th>Error rate</th></tr></thead>
      <tbody>${Object.entries(m.calls ?? {}).map(([k, c]: [string, any]) => html`<tr><td>${k.split(".").slice(-1)[0]}</td>
        <td>${c.requests}</td><td>${c.errors}</td><td>${c.rejected}</td><td>${(Number(c.error_rate) * 100).toFixed(2)}%</td></tr>`)}</tbody></table></div>` : null}
    <form class="panel" onSubmit=${(e: Event) => e.preventDefault()}>
      <h2>Global kill switch</h2>
      <label>Reason <input value=${reason} onInput=${(e: any) => setReason(e.target.value)} placeholder="why" data-testid="ks-reason" /></label>
      <div class="row">
        <button class="danger" disabled=${busy} onClick=${() => confirm("Engage the kill switch? No order is accepted until it is cleared.") && toggle(true)} data-testid="ks-on">Engage</button>
        <button disabled=${busy} onClick=${() => toggle(false)} data-testid="ks-off">Clear</button>
      </div>
      ${state ? html`<p data-testid="ks-state">Kill switch is ${state.active ? "ON" : "off"} (changed ${time(state.changed_at)}${state.reason ? `: ${state.reason}` : ""})</p>` : null}
    </form>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
  </section>`;
}

export function AdminAudit() {
  const [filter, setFilter] = useState({ user_id: "", action: "", since: "", until: "" });
  const [applied, setApplied] = useState(filter);
  const [pages, setPages] = useState<string[]>([""]);
  const ms = (d: string) => (d ? Date.parse(d) : undefined);
  const list = useApi<any>(
    `/api/v1/admin/audit-logs${qs({ user_id: applied.user_id, action: applied.action, since: ms(applied.since), until: ms(applied.until), "page.page_size": 50, "page.page_token": pages[pages.length - 1] })}`,
  );
  const input = (name: keyof typeof filter, type = "text", placeholder = "") =>
    html`<input type=${type} placeholder=${placeholder} value=${filter[name]} onInput=${(e: any) => setFilter({ ...filter, [name]: e.target.value })} />`;
  return html`<section>
    <h1>Audit log</h1>
    <form class="row wrap" onSubmit=${(e: Event) => (e.preventDefault(), setApplied(filter), setPages([""]))}>
      ${input("user_id", "text", "user id")} ${input("action", "text", "action, e.g. auth.* ")}
      ${input("since", "datetime-local")} ${input("until", "datetime-local")}
      <button>Filter</button>
    </form>
    <${Status} state=${list} what="Audit log" />
    ${list.data ? html`<div class="scroll"><table data-testid="audit-table">
      <thead><tr><th>When</th><th>Action</th><th>Outcome</th><th>User</th><th>Actor</th><th>IP</th><th>Detail</th></tr></thead>
      <tbody>${(list.data.records ?? []).map((r: any) => html`<tr>
        <td>${time(r.at)}</td><td>${r.action}</td><td>${r.outcome}</td><td><code>${(r.user_id || "").slice(0, 8)}</code></td>
        <td><code>${(r.actor_id || "").slice(0, 8)}</code></td><td>${r.client_ip}</td><td class="detail">${r.detail}</td></tr>`)}</tbody></table></div>
    <div class="row">
      <button class="small" disabled=${pages.length < 2} onClick=${() => setPages(pages.slice(0, -1))}>Newer</button>
      <button class="small" disabled=${!list.data.page?.next_page_token} onClick=${() => setPages([...pages, list.data.page.next_page_token])}>Older</button>
    </div>` : null}
  </section>`;
}
