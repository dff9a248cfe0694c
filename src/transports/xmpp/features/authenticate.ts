// What SASL2 and legacy SASL share: camctl's mechanisms, and the last check before credentials
// leave: whatever path got here, never on a plaintext stream.
import SASLFactory from "saslmechanisms";
import type { OnAuthenticate } from "@xmpp/sasl2";
import type { Element } from "@xmpp/xml";
import { abortable } from "../../../core/abort.js";
import { noMechanism, notEncrypted } from "../login-errors.js";
import { type ScramTracker, useMechanisms } from "../sasl-mechanisms.js";
import type { LoginContext } from "./context.js";

/** SCRAM-SHA-256, SCRAM-SHA-1, then PLAIN (the factory's order of preference). */
export function mechanisms(scram: ScramTracker): SASLFactory {
  const factory = new SASLFactory();
  useMechanisms(factory, scram);
  return factory;
}

/** Authenticates with the most preferred mechanism both sides know; `userAgent` goes with SASL2 only. */
export function authenticator(login: LoginContext, password: string, via: "sasl2" | "sasl", userAgent?: Element): OnAuthenticate {
  return async (authenticate, offered, _fast, entity) => {
    if (!entity.isSecure() && !login.plaintextAllowed) throw notEncrypted(login.where);
    const mechanism = offered[0];
    if (mechanism === undefined) throw noMechanism(login.jid);
    login.authenticatedWith = via;
    await abortable(authenticate({ username: login.local, password }, mechanism, userAgent), login.signal);
  };
}
