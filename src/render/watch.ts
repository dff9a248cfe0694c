// camctl watch's output: one NDJSON record per event (the schema of src/core/watch.ts), or one
// readable line per event on a terminal. Every string from the server or a client is made safe.
import type { WatchEvent } from "../core/watch.js";
import { displaySafe } from "../text/untrusted.js";
import { renderJsonLine } from "./json.js";

/** One NDJSON line, fields in the documented order, escaped as every NDJSON line is (render/json.ts). */
export function watchJsonLine(e: WatchEvent): string {
  const ordered = {
    ...(e.context !== undefined ? { context: e.context } : {}),
    time: e.time,
    host: e.host,
    account: e.account,
    event: e.event,
    ip: e.ip,
    clientId: e.clientId,
    software: e.software,
    device: e.device,
    mechanism: e.mechanism,
    detail: e.detail,
    dropped: e.dropped,
  };
  return renderJsonLine(ordered);
}

const safe = (s: string | null, max = 80): string | null => {
  if (s === null) return null;
  const t = displaySafe(s);
  return t.length > max ? t.slice(0, max - 1) + "…" : t;
};

/** "2026-12-07 13:45:12  login-failed  alice@example.com  from 127.0.0.2  client/… (Dino on laptop)  SCRAM-SHA-1  not-authorized" */
export function watchTextLine(e: WatchEvent): string {
  const time = e.time.replace("T", " ").replace(/\.\d+Z$/, "Z");
  const parts = [
    ...(e.context !== undefined ? [`[${safe(e.context, 40)}]`] : []),
    time,
    e.event.padEnd(16),
    safe(e.account) ?? "-",
  ];
  if (e.ip !== null) parts.push(`from ${safe(e.ip, 60)}`);
  const agent = [safe(e.software, 40), e.device !== null ? `on ${safe(e.device, 40)}` : null].filter((x) => x !== null).join(" ");
  if (e.clientId !== null) parts.push(agent ? `${safe(e.clientId)} (${agent})` : safe(e.clientId)!);
  else if (agent) parts.push(`(${agent})`);
  if (e.mechanism !== null) parts.push(safe(e.mechanism, 40)!);
  if (e.detail !== null) parts.push(safe(e.detail, 160)!);
  return parts.join("  ") + "\n";
}
