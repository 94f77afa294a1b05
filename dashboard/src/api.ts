// The public REST API (through Envoy, same origin) and the session kept in localStorage.
// Errors carry the API's JSON shape: {"code": <gRPC code>, "message": ...}.

export class ApiError extends Error {
  constructor(public status: number, public code: number, message: string) {
    super(message);
  }
  /** 501: the platform does not implement this yet; the page shows "not available yet". */
  get notAvailable(): boolean {
    return this.status === 501;
  }
}

export interface Session {
  access_token: string;
  refresh_token: string;
}

type Listener = () => void;
const KEY = "nija.session";
const listeners = { down: new Set<Listener>(), session: new Set<Listener>() };
export let apiDown = false;

export function on(kind: "down" | "session", fn: Listener): () => void {
  listeners[kind].add(fn);
  return () => listeners[kind].delete(fn);
}
function emit(kind: "down" | "session") {
  listeners[kind].forEach((fn) => fn());
}
function setDown(value: boolean) {
  if (apiDown !== value) {
    apiDown = value;
    emit("down");
  }
}

export function session(): Session | null {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}
export function setSession(value: Session | null, expired = false) {
  if (value) localStorage.setItem(KEY, JSON.stringify(value));
  else localStorage.removeItem(KEY);
  if (expired) sessionStorage.setItem("nija.expired", "1");
  emit("session");
}
export function takeExpiredFlag(): boolean {
  const was = sessionStorage.getItem("nija.expired") === "1";
  sessionStorage.removeItem("nija.expired");
  return was;
}

async function raw(method: string, path: string, body?: unknown, token?: string): Promise<Response> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (token) headers.authorization = `Bearer ${token}`;
  try {
    const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    // 502/503 without a JSON body from the services means the edge cannot reach them.
    setDown(resp.status === 502 || (resp.status === 503 && path !== "/healthz"));
    return resp;
  } catch {
    setDown(true);
    throw new ApiError(0, 14, "The NIJA API cannot be reached. Retrying when you act again.");
  }
}

async function parse<T>(resp: Response): Promise<T> {
  const text = await resp.text();
  let data: any = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { message: text };
  }
  if (!resp.ok) throw new ApiError(resp.status, data?.code ?? 2, data?.message || `HTTP ${resp.status}`);
  return data as T;
}

let refreshing: Promise<boolean> | null = null;

/** Trade the refresh token for a new pair; false (and logged out) when the session is over. */
export function refreshSession(): Promise<boolean> {
  const current = session();
  if (!current) return Promise.resolve(false);
  refreshing ??= (async () => {
    try {
      const resp = await raw("POST", "/api/v1/auth/refresh", { refresh_token: current.refresh_token });
      if (resp.status === 401 || resp.status === 400) {
        setSession(null, true);
        return false;
      }
      setSession(await parse<Session>(resp));
      return true;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** One authenticated call; on 401 refresh once, and on a dead session go back to login. */
export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const token = session()?.access_token;
  let resp = await raw(method, path, body, token);
  if (resp.status === 401 && token) {
    if (await refreshSession()) resp = await raw(method, path, body, session()?.access_token);
    else throw new ApiError(401, 16, "Your session has expired. Please log in again.");
  }
  return parse<T>(resp);
}

export async function login(email: string, password: string): Promise<void> {
  const resp = await raw("POST", "/api/v1/auth/login", { email, password });
  setSession(await parse<Session>(resp));
}

export async function register(email: string, password: string): Promise<void> {
  await parse(await raw("POST", "/api/v1/auth/register", { email, password }));
}

export async function logout(): Promise<void> {
  const current = session();
  if (current) {
    try {
      await api("POST", "/api/v1/auth/logout", { refresh_token: current.refresh_token });
    } catch {
      /* logged out locally either way */
    }
  }
  setSession(null);
}

/** Query string from an object, skipping empty values (`page.page_size=10` style keys allowed). */
export function qs(params: Record<string, string | number | boolean | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== "" && v !== false)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join("&")}` : "";
}
