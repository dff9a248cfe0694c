// SASL2 (XEP-0388) with the installation's stable user agent, and without FAST.
//   XEP-0388 SASL2  https://xmpp.org/extensions/xep-0388.html (<authenticate>, <user-agent id>)
//   XEP-0484 FAST   https://xmpp.org/extensions/xep-0484.html (deliberately not used)
// The <user-agent> always carries the installation's stable id (xmpp.js's client() invents one
// per run, so each run would become a new client in the very list being audited).
// FAST: camctl never asks for a token. The server offers FAST inline in SASL2, but no handler for
// it is registered, so <request-token/> is never sent and no token is ever issued to camctl: there
// is nothing to store, nothing to leak, and no orphan token per run.
import xml, { type Element } from "@xmpp/xml";
import _sasl2, { type Sasl2 } from "@xmpp/sasl2";
import type SASLFactory from "saslmechanisms";
import type { StreamFeatures } from "@xmpp/stream-features";
import { authenticator } from "./authenticate.js";
import type { LoginContext } from "./context.js";

export interface UserAgentInfo {
  id: string;
  software: string;
  version: string;
  device: string;
}

/** The SASL2 <user-agent/>: stable id, software, version, device. */
function userAgentElement(ua: UserAgentInfo): Element {
  return xml("user-agent", { id: ua.id }, xml("software", {}, ua.software), xml("version", {}, ua.version), xml("device", {}, ua.device));
}

export function useSasl2(streamFeatures: StreamFeatures, factory: SASLFactory, login: LoginContext, password: string, userAgent: UserAgentInfo): Sasl2 {
  const sasl2 = _sasl2({ streamFeatures, saslFactory: factory }, authenticator(login, password, "sasl2", userAgentElement(userAgent)));
  // No FAST: sasl2 asks this helper first; it declines, and no token is ever requested.
  sasl2.setup({ fast: { auth: async () => false } });
  return sasl2;
}
