// The history over Prosody's admin socket (and so over SSH): lua/history_request.lua on
// prosody/mod_client_management_admin/history_log.lib.lua, read as a record stream whose replies
// follow one another (record_stream.lua's continuation), each entry handed on as it arrives with
// reading paused while the consumer is behind, so memory stays flat however long the history.
import { CamError, ServerFault } from "../../core/errors.js";
import { matchesHistory, noHistorySource, type HistoryEvent, type HistoryQuery } from "../../core/history.js";
import { isoFromUnix } from "../../core/model.js";
import { excerpt, msg } from "../../text/untrusted.js";

export { noHistorySource };
import historyRequestLua from "./lua/history_request.lua";
import type { AdminStream } from "./adminstream.js";
import { argsTable, LIBRARY, luaModule } from "./lua.js";
import { MAX_STREAM_BYTES, readRecordStream } from "./record-stream.js";
import { RecordQueue } from "./record-queue.js";
import { notAHostError } from "./not-a-host.js";

type Meta = Record<string, unknown>;
const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** The `>` chunk of a history request. */
export function historyChunk(q: HistoryQuery): string {
  const args = argsTable({
    host: q.host,
    jid: q.jid,
    since: q.since === null ? null : String(q.since),
    upto: q.until === null ? null : String(q.until),
    events: q.events.length > 0 ? q.events.join(",") : null,
  });
  return (
    `>local ARGS = ${args}\n${LIBRARY}` +
    luaModule("history_request", historyRequestLua, ["admin_requests", "history_log", "json_lines", "record_stream"]) +
    "return history_request.history(ARGS)"
  );
}

/** One entry as the Lua sends it: an array, fields by position (see history_request.lua). */
export function historyEventFromSocket(host: string, raw: unknown[]): HistoryEvent {
  const [time, account, event, recordedBy, source, ip, location, clientId, detail] = raw;
  const d: Record<string, string> = {};
  if (detail && typeof detail === "object" && !Array.isArray(detail)) {
    for (const [k, v] of Object.entries(detail as Meta)) if (typeof v === "string") d[k] = v;
  }
  return {
    time: isoFromUnix(time),
    host,
    account: str(account),
    event: str(event) ?? "",
    source: source === "camctl" ? "camctl" : "mod_audit",
    recordedBy: str(recordedBy),
    ip: str(ip),
    location: str(location),
    clientId: str(clientId),
    detail: Object.keys(d).length > 0 ? d : null,
  };
}

function historyError(meta: Meta, q: HistoryQuery): CamError {
  const host = String(meta.host ?? q.host);
  switch (meta.err) {
    case "invalid-jid":
      return new CamError("usage", msg`Prosody does not accept ${q.jid ?? q.host} as ${q.jid ? "a JID" : "a host name"}.`, "jid-malformed");
    case "host-not-found":
      return notAHostError(host, meta);
    case "no-history-source":
      return noHistorySource(host);
  }
  const detail = meta.text ? msg`: ${excerpt(String(meta.text))}` : "";
  return new ServerFault(msg`Prosody could not read the history (${String(meta.err)})${detail}. See Prosody's log for details.`, String(meta.err));
}

/** The history, streamed: yields each entry (checked against the query again) as it arrives. */
export async function* readHistory(stream: AdminStream, q: HistoryQuery, alive?: () => void): AsyncIterable<HistoryEvent> {
  const what = q.jid ? msg`the history of ${q.jid}`.toString() : msg`the history of ${q.host}`.toString();
  const queue = new RecordQueue<HistoryEvent>(() => stream.pause(), () => stream.resume());
  let outcome: { meta: Meta } | { error: unknown } | undefined;
  const reading = readRecordStream(stream, historyChunk(q), {
    what,
    maxBytes: Number.POSITIVE_INFINITY,
    maxRecordBytes: MAX_STREAM_BYTES,
    onRecord: (raw) => {
      alive?.();
      if (!Array.isArray(raw)) return; // the header ({ sources })
      const e = historyEventFromSocket(q.host, raw);
      if (matchesHistory(e, q)) queue.push(e);
    },
  }).then(
    (r) => (outcome = { meta: r.meta }),
    (error: unknown) => (outcome = { error }),
  );
  void reading.finally(() => queue.wake());
  yield* queue.drain(() => outcome !== undefined, () => stream.close());
  if (!outcome) return; // the reading ends only with an outcome
  if ("error" in outcome) throw outcome.error;
  if (outcome.meta.err) throw historyError(outcome.meta, q);
}
