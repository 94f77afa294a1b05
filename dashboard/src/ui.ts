// Small shared pieces: the htm binding, a data-loading hook, and the states every panel shows.
import { h } from "preact";
import { useCallback, useEffect, useState } from "preact/hooks";
import htm from "htm";
import { api, ApiError } from "./api";

export const html = htm.bind(h);

export interface Loaded<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
  set: (fn: (old: T | null) => T | null) => void;
}

/** GET ``path`` now and whenever ``reload`` is called (or the path changes). */
export function useApi<T = any>(path: string | null): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return;
    let live = true;
    setLoading(true);
    api<T>("GET", path)
      .then((d) => live && (setData(d), setError(null)))
      .catch((e: ApiError) => live && setError(e))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [path, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload, set: (fn) => setData((old) => fn(old)) };
}

/** What a panel shows instead of data: loading, "not available yet" (501), or the error. */
export function Status({ state, what }: { state: Loaded<any>; what: string }) {
  if (state.error?.notAvailable)
    return html`<p class="na" data-testid="not-available">${what}: not available yet. This part of the platform has not been built.</p>`;
  if (state.error) return html`<p class="error" role="alert">${what}: ${state.error.message}</p>`;
  if (state.loading && state.data === null) return html`<p class="muted">Loading ${what.toLowerCase()}…</p>`;
  return null;
}

export function Card({ label, value, testid, hint }: { label: string; value: any; testid: string; hint?: string }) {
  return html`<div class="card" data-testid=${testid}>
    <div class="label">${label}</div>
    <div class="value">${value}</div>
    ${hint ? html`<div class="hint">${hint}</div>` : null}
  </div>`;
}

/** A money or quantity string, shortened for display only (the API keeps full decimals). */
export function fmt(value: string | number | undefined | null, digits = 2): string {
  if (value === undefined || value === null || value === "") return "—";
  const n = Number(value);
  if (!Number.isFinite(n)) return String(value);
  // Small amounts (crypto quotes in BTC, fees) keep four significant digits instead of "0".
  if (n !== 0 && Math.abs(n) < 1) return n.toLocaleString(undefined, { maximumSignificantDigits: 4 });
  return n.toLocaleString(undefined, { minimumFractionDigits: 0, maximumFractionDigits: digits });
}

export function time(ms: string | number | undefined): string {
  const n = Number(ms);
  return n ? new Date(n).toLocaleString() : "—";
}

export function sign(value: string | undefined): string {
  const n = Number(value);
  return !value || !Number.isFinite(n) || n === 0 ? "" : n > 0 ? "up" : "down";
}

export function side(value: string | undefined): string {
  return value === "ORDER_SIDE_BUY" ? "buy" : value === "ORDER_SIDE_SELL" ? "sell" : value || "—";
}

/** Run an action, keep its error for display. */
export function useAction(): [string | null, boolean, (fn: () => Promise<unknown>) => Promise<boolean>] {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      return true;
    } catch (e) {
      const err = e as ApiError;
      setError(err.notAvailable ? "Not available yet: this part of the platform has not been built." : err.message);
      return false;
    } finally {
      setBusy(false);
    }
  };
  return [error, busy, run];
}
