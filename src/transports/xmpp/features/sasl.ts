// Legacy SASL (RFC 6120 §6), only for servers without SASL2.
//   https://www.rfc-editor.org/rfc/rfc6120#section-6
import type { Element } from "@xmpp/xml";
import type { Client } from "@xmpp/client-core";
import _sasl from "@xmpp/sasl";
import type SASLFactory from "saslmechanisms";
import type { StreamFeatures } from "@xmpp/stream-features";
import type { ScramTracker } from "../sasl-mechanisms.js";
import { authenticator } from "./authenticate.js";
import type { LoginContext } from "./context.js";

const NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl";

export function useLegacySasl(streamFeatures: StreamFeatures, factory: SASLFactory, scram: ScramTracker, entity: Client, login: LoginContext, password: string): void {
  // Legacy SASL carries the SCRAM server-final-message in <success/>, which xmpp.js ignores: check it here.
  entity.on("nonza", (el: Element) => {
    if (el.is("success", NS_SASL) && scram.pending && el.getText().trim() !== "") {
      try {
        scram.verify(atob(el.getText().trim()));
      } catch (err) {
        login.fail(err);
      }
    }
  });
  _sasl({ streamFeatures, saslFactory: factory }, authenticator(login, password, "sasl"));
}
