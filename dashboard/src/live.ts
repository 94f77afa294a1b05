// Live events over the stream service's WebSockets (/ws/<channel>), with resume: the id of the
// last event seen goes back as ?last_event_id= so a reconnect misses nothing and repeats nothing.
import { refreshSession, session } from "./api";

export interface LiveEvent {
  type: "event";
  id: number;
  subject: string;
  kind: string;
  data: any;
}
export type LiveState = "connecting" | "live" | "reconnecting" | "closed";

const TOKEN_EXPIRED = 4001;
const SLOW_CONSUMER = 4008;

export function subscribe(
  channel: "positions" | "trades" | "notifications" | "market-data",
  onEvent: (e: LiveEvent) => void,
  onState: (s: LiveState) => void = () => {},
): () => void {
  let lastId: number | null = null;
  let socket: WebSocket | null = null;
  let stopped = false;
  let retry = 0;
  let timer: number | undefined;

  const open = () => {
    const token = session()?.access_token;
    if (stopped || !token) return;
    onState(retry ? "reconnecting" : "connecting");
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const resume = lastId === null ? "" : `&last_event_id=${lastId}`;
    socket = new WebSocket(`${proto}://${location.host}/ws/${channel}?access_token=${encodeURIComponent(token)}${resume}`);
    socket.onmessage = (msg) => {
      const frame = JSON.parse(msg.data);
      if (frame.type === "ready") {
        retry = 0;
        onState("live");
      } else if (frame.type === "event") {
        lastId = frame.id;
        onEvent(frame as LiveEvent);
      }
    };
    socket.onclose = async (ev) => {
      socket = null;
      if (stopped) return;
      onState("reconnecting");
      if (ev.code === TOKEN_EXPIRED && !(await refreshSession())) return;
      const delay = ev.code === SLOW_CONSUMER || ev.code === TOKEN_EXPIRED ? 0 : Math.min(15000, 500 * 2 ** retry++);
      timer = window.setTimeout(open, delay);
    };
  };
  open();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
    socket?.close(1000);
    onState("closed");
  };
}
