// camctl watch over XMPP, through the companion module (prosody/mod_client_management_admin/
// host_watch.lib.lua): an admin's session asks the host
//   <iq type='set' to='example.com'><watch xmlns='urn:camctl:admin:0' queue='1000' heartbeat='5'/></iq>
// and from then on the host pushes each event to this session as a headline <message/> carrying
// <event/>, <dropped/> or <heartbeat/> (attributes as the socket's NDJSON fields). The watch ends
// with the session: camctl closes it, and the server removes its hooks when the session unbinds.
//
// Pushed messages are taken only from the host itself. camctl holds at most MAX_WAITING of them
// while its own output is behind; beyond that it drops and counts them too, reported like the
// server's drops, so memory stays flat whatever the reader does.
import xml, { type Element } from "@xmpp/xml";
import { CamError, ServerFault } from "../../core/errors.js";
import type { HostWatch } from "../../core/client-source.js";
import { comparableJid } from "../../core/validate.js";
import { watchItemFromServer, type WatchItem } from "../../core/watch.js";
import { msg } from "../../text/untrusted.js";
import { COMPANION_MODULE, NS_ADMIN, type ErrorInfo, type RequestContext } from "./manage-clients.js";
import type { XmppRequester } from "./session.js";

const MAX_WAITING = 10_000;

/** An <event/>, <dropped/> or <heartbeat/> as the socket's record (attributes by the same names). */
function recordOf(el: Element): Record<string, unknown> | null {
  const a = el.attrs as Record<string, string | undefined>;
  const num = (v: string | undefined) => (v !== undefined && /^\d{1,16}$/.test(v) ? Number(v) : undefined);
  switch (el.getName()) {
    case "heartbeat":
      return { heartbeat: num(a["time-ms"]) ?? 0 };
    case "dropped":
      return { dropped: num(a.count) ?? 0, time_ms: num(a["time-ms"]) };
    case "event":
      return {
        event: a.name,
        time_ms: num(a["time-ms"]),
        account: a.account,
        ip: a.ip,
        client: a.client,
        software: a.software,
        device: a.device,
        mechanism: a.mechanism,
        detail: a.detail,
      };
  }
  return null;
}

function watchError(e: ErrorInfo, ctx: RequestContext): CamError {
  const host = ctx.target;
  switch (e.condition) {
    case "forbidden":
    case "not-allowed":
    case "not-authorized":
      return new CamError("forbidden",
        msg`The server does not let ${ctx.login} watch the events of ${host} (${e.condition}); that needs an account the server's roles allow (by default prosody:admin).`,
        e.condition);
    case "service-unavailable":
    case "feature-not-implemented":
      return new CamError("unsupported",
        msg`${host} does not answer camctl watch over XMPP: the companion module ${COMPANION_MODULE} is not enabled there, or is older than this camctl. ` +
          `Enable it on that host, or run camctl watch on the server with --socket.`,
        e.condition);
    case "item-not-found":
    case "remote-server-not-found":
      return new CamError("notFound", msg`${host} is not a host of this server.`, e.condition);
  }
  return new ServerFault(msg`The server refused to watch ${host} (${e.condition}).`, e.condition);
}

export async function* watchOverXmpp(
  session: XmppRequester,
  host: string,
  login: string,
  w: HostWatch,
  stanzaError: (err: unknown, ctx: RequestContext) => ErrorInfo,
): AsyncGenerator<WatchItem> {
  const ctx: RequestContext = { op: "host clients", target: host, login, self: false };
  if (!session.listen) throw new CamError("unsupported", "This XMPP session cannot receive pushed events.");
  const waiting: WatchItem[] = [];
  let droppedHere = 0;
  let ended: CamError | undefined;
  let wake: (() => void) | undefined;
  const poke = () => {
    const f = wake;
    wake = undefined;
    f?.();
  };
  const from = comparableJid(host);
  const stopListening = session.listen(
    (stanza) => {
      if (stanza.getName() !== "message" || comparableJid(stanza.attrs.from ?? "") !== from) return;
      for (const el of stanza.getChildElements()) {
        if (el.getNS() !== NS_ADMIN) continue;
        const raw = recordOf(el);
        const item = raw && watchItemFromServer(raw, host, new Date());
        if (!item) continue;
        if (item.kind === "event" && waiting.length >= MAX_WAITING) {
          droppedHere += item.event.event === "dropped" ? (item.event.dropped ?? 0) : 1;
          continue;
        }
        waiting.push(item);
      }
      poke();
    },
    (reason) => {
      ended = reason;
      poke();
    },
  );
  const stopWaiting = () => poke();
  w.stop.addEventListener("abort", stopWaiting, { once: true });
  try {
    const request = xml("iq", { type: "set", to: host }, xml("watch", { xmlns: NS_ADMIN, queue: String(w.queue ?? 1000), heartbeat: String(w.heartbeatSeconds) }));
    try {
      await session.request(request, "watch");
    } catch (err) {
      throw watchError(stanzaError(err, ctx), ctx);
    }
    w.onReady?.();
    for (;;) {
      if (w.stop.aborted) return;
      const next = waiting.shift();
      if (next) {
        yield next;
        continue;
      }
      if (droppedHere > 0) {
        const item = watchItemFromServer({ dropped: droppedHere }, host, new Date());
        droppedHere = 0;
        if (item) yield item;
        continue;
      }
      if (ended) throw ended;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    w.stop.removeEventListener("abort", stopWaiting);
    stopListening();
  }
}
