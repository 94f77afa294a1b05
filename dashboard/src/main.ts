// NIJA dashboard: the app shell, log in / sign up, and a hash router over the pages.
// Preact + htm: a 4 KB React-compatible renderer and tagged templates, so no JSX transform.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, apiDown, login, logout, on, register, session, takeExpiredFlag } from "./api";
import { AdminAudit, AdminConsole, AdminUsers } from "./pages/admin";
import { Brokers, Settings, Subscription } from "./pages/account";
import { Bots, Overview, Positions, Trades } from "./pages/trading";
import { subscribe } from "./live";
import { html } from "./ui";
import "./style.css";

const PAGES: Record<string, { title: string; view: any; admin?: boolean }> = {
  "/": { title: "Overview", view: Overview },
  "/positions": { title: "Positions", view: Positions },
  "/trades": { title: "Trades", view: Trades },
  "/bots": { title: "Bots", view: Bots },
  "/settings": { title: "Settings", view: Settings },
  "/brokers": { title: "Brokers", view: Brokers },
  "/subscription": { title: "Subscription", view: Subscription },
  "/admin": { title: "Platform", view: AdminConsole, admin: true },
  "/admin/users": { title: "Users", view: AdminUsers, admin: true },
  "/admin/audit": { title: "Audit log", view: AdminAudit, admin: true },
};

function route(): string {
  return location.hash.replace(/^#/, "") || "/";
}

function useRoute(): string {
  const [r, setR] = useState(route());
  useEffect(() => {
    const fn = () => setR(route());
    window.addEventListener("hashchange", fn);
    return () => window.removeEventListener("hashchange", fn);
  }, []);
  return r;
}

function Auth({ mode }: { mode: "login" | "signup" }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [expired] = useState(takeExpiredFlag);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === "signup") await register(email, password);
      await login(email, password);
      location.hash = "#/";
    } catch (err) {
      setError((err as ApiError).message);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="auth">
    <h1>NIJA</h1>
    ${expired ? html`<p class="banner warn" data-testid="session-expired">Your session has expired. Please log in again.</p>` : null}
    <form class="panel" onSubmit=${submit} data-testid=${`${mode}-form`}>
      <h2>${mode === "login" ? "Log in" : "Create your account"}</h2>
      <label>Email <input type="email" autocomplete="email" required value=${email} onInput=${(e: any) => setEmail(e.target.value)} name="email" /></label>
      <label>Password <input type="password" autocomplete=${mode === "login" ? "current-password" : "new-password"} required minlength="12"
        value=${password} onInput=${(e: any) => setPassword(e.target.value)} name="password" /></label>
      ${mode === "signup" ? html`<p class="hint">At least 12 characters.</p>` : null}
      <button disabled=${busy} data-testid="submit">${mode === "login" ? "Log in" : "Sign up"}</button>
      ${error ? html`<p class="error" role="alert" data-testid="auth-error">${error}</p>` : null}
    </form>
    <p>${mode === "login"
      ? html`New here? <a href="#/signup" data-testid="to-signup">Create an account</a>`
      : html`Have an account? <a href="#/login" data-testid="to-login">Log in</a>`}</p>
  </main>`;
}

function Shell({ me, path }: { me: any; path: string }) {
  const isAdmin = (me?.roles ?? []).includes("admin");
  const page = PAGES[path] && (!PAGES[path].admin || isAdmin) ? PAGES[path] : PAGES["/"];
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [path]);
  // User-facing notices (nija.user.<id>.notifications) pop up for a few seconds on any page.
  const [note, setNote] = useState<string | null>(null);
  useEffect(() => {
    let timer: number | undefined;
    const stop = subscribe("notifications", (e) => {
      const d = e.data ?? {};
      setNote(String(d.text ?? d.message ?? d.title ?? JSON.stringify(d)));
      window.clearTimeout(timer);
      timer = window.setTimeout(() => setNote(null), 6000);
    });
    return () => (stop(), window.clearTimeout(timer));
  }, []);
  return html`<div class="shell">
    <header>
      <a class="brand" href="#/">NIJA</a>
      <button class="menu" aria-label="menu" onClick=${() => setOpen(!open)}>☰</button>
      <nav class=${open ? "open" : ""}>
        ${Object.entries(PAGES)
          .filter(([, p]) => !p.admin || isAdmin)
          .map(([href, p]) => html`<a href=${`#${href}`} class=${PAGES[path] === p ? "active" : ""} data-testid=${`nav-${href}`}>${p.title}</a>`)}
        <span class="who" data-testid="who">${me?.email ?? ""}</span>
        <button class="small" onClick=${() => logout()} data-testid="logout">Log out</button>
      </nav>
    </header>
    <main><${page.view} /></main>
    ${note ? html`<div class="toast" role="status" data-testid="notification">${note}</div>` : null}
  </div>`;
}

function App() {
  const path = useRoute();
  const [, force] = useState(0);
  const [me, setMe] = useState<any>(null);
  const [down, setDown] = useState(apiDown);
  useEffect(() => on("session", () => force((n) => n + 1)), []);
  useEffect(() => on("down", () => setDown(apiDown)), []);
  const signedIn = !!session();
  useEffect(() => {
    if (signedIn) api("GET", "/api/v1/auth/me").then(setMe).catch(() => setMe(null));
    else setMe(null);
  }, [signedIn]);
  // While the API is down, poll /healthz so the banner clears by itself.
  useEffect(() => {
    if (!down) return;
    const t = window.setInterval(() => api("GET", "/healthz").catch(() => {}), 5000);
    return () => window.clearInterval(t);
  }, [down]);
  const banner = down ? html`<div class="banner error" role="alert" data-testid="api-down">The NIJA API cannot be reached right now. Data on this page may be stale.</div>` : null;
  if (!signedIn) return html`${banner}<${Auth} mode=${path === "/signup" ? "signup" : "login"} />`;
  return html`${banner}<${Shell} me=${me} path=${path} />`;
}

render(html`<${App} />`, document.getElementById("app")!);
