// Binding a resource: inline with SASL2 (Bind2), else the RFC 6120 way.
//   XEP-0386 Bind2   https://xmpp.org/extensions/xep-0386.html
//   RFC 6120 §7      https://www.rfc-editor.org/rfc/rfc6120#section-7
// Which resource: a server that tracks clients by their SASL2 user-agent id (mod_client_management
// does) gets none from camctl and makes a fresh one per session. Two camctl runs at the same time
// then never share a full JID, so neither replaces the other, and the list still shows one camctl
// client per installation. (Bind2's <tag/> is not sent: Prosody derives the resource from the tag
// and the client id, the same for every run.) A server that only spoke legacy SASL can track
// clients only by resource, so camctl asks for a stable one per installation there: one entry,
// but two simultaneous runs share it, and the later login replaces the earlier one, which ends
// with a sentence saying so (conflict).
import xml from "@xmpp/xml";
import type { Client } from "@xmpp/client-core";
import _bind2 from "@xmpp/client-core/src/bind2/bind2.js";
import type { Sasl2 } from "@xmpp/sasl2";
import type { StreamFeatures } from "@xmpp/stream-features";
import { bindRefused } from "../login-errors.js";
import type { IqRequests } from "../session.js";
import type { LoginContext } from "./context.js";

const NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind";

/** The stable resource for servers that track clients by resource. */
function legacyResource(userAgentId: string): string {
  return `camctl-${userAgentId.slice(0, 8)}`;
}

/** Bind2 inline in SASL2, without a tag: the server picks a fresh resource. */
export function useBind2(sasl2: Sasl2, entity: Client): void {
  _bind2({ sasl2, entity });
}

/** RFC 6120 resource binding after SASL (or after SASL2 without Bind2). */
export function useLegacyBind(streamFeatures: StreamFeatures, iq: IqRequests, login: LoginContext, userAgentId: string): void {
  streamFeatures.use("bind", NS_BIND, async ({ entity }, next) => {
    const resource = login.authenticatedWith === "sasl" ? legacyResource(userAgentId) : undefined;
    const reply = await iq.request(xml("iq", { type: "set" }, xml("bind", { xmlns: NS_BIND }, resource && xml("resource", {}, resource))), login.signal);
    const jid = reply.getChild("bind", NS_BIND)?.getChildText("jid");
    if (!jid) throw bindRefused(login.where, "no JID in the answer");
    entity._jid(jid);
    entity._ready(false);
    return next();
  });
}
