// camctl watch over the admin socket: one long request (lua/watch.lua) whose record stream never
// ends on its own; each line is an event, a heartbeat or a drop count. Ending it is closing the
// connection, which also removes the hooks in the server (on Prosody's admin-disconnected event).
import { CamError } from "../../core/errors.js";
import { onAbort } from "../../core/abort.js";
import type { HostWatch } from "../../core/client-source.js";
import { watchItemFromServer, type WatchItem } from "../../core/watch.js";
import { msg } from "../../text/untrusted.js";
import type { AdminStream } from "./adminstream.js";
import { readRecordStream } from "./record-stream.js";
import { RecordQueue } from "./record-queue.js";
import { watchChunk } from "./lua-watch.js";
import { notAHostError } from "./not-a-host.js";

/** One event line is small; anything larger than this is not camctl's. */
const MAX_EVENT_BYTES = 1024 * 1024;

export async function* watchHost(stream: AdminStream, host: string, w: HostWatch): AsyncGenerator<WatchItem> {
  const what = msg`the events of ${host}`.toString();
  const queue = new RecordQueue<WatchItem>(() => stream.pause(), () => stream.resume());
  let outcome: { meta: Record<string, unknown> } | { error: unknown } | undefined;
  const reading = readRecordStream(stream, watchChunk({ host, queue: w.queue ?? 1000, heartbeatSeconds: w.heartbeatSeconds }), {
    what,
    maxBytes: Number.POSITIVE_INFINITY,
    maxRecordBytes: MAX_EVENT_BYTES,
    onRecord: (raw) => {
      if (raw && typeof raw === "object" && "watching" in raw) {
        w.onReady?.();
        return;
      }
      const item = watchItemFromServer(raw, host, new Date());
      if (item) queue.push(item);
    },
  }).then(
    (r) => (outcome = { meta: r.meta }),
    (error: unknown) => (outcome = { error }),
  );
  void reading.finally(() => queue.wake());
  const unlisten = onAbort(w.stop, () => queue.wake());
  try {
    // Stopped (or given up): the connection goes, and with it the hooks in the server.
    yield* queue.drain(() => outcome !== undefined, () => stream.close(), () => w.stop.aborted);
  } finally {
    unlisten();
  }
  if (!outcome) return; // stopped: the watch ends quietly
  if ("error" in outcome) throw outcome.error;
  switch (outcome.meta.err) {
    case "host-not-found":
      throw notAHostError(host, outcome.meta);
    case "no-admin-session":
      throw new CamError("unsupported",
        "This Prosody's admin socket does not let camctl find its own connection, so a watcher could not be removed when it ends; camctl does not start one.",
        "no-admin-session");
  }
  throw new CamError("unreachable", msg`Prosody ended the watch of ${host} without saying why. Prosody's log may say more.`);
}
