// The outcomes of a revocation where nothing was revoked (exit 6), decided here and worded once:
// no client matches the selector, the entry is gone, or the id now names another client. The
// sources (socket, XMPP) and `user revoke_client` raise the same three errors. With them, how
// camctl names a client in every sentence (render/revoke.ts, render/bulk.ts, `user lockout`).
import { CamError } from "./errors.js";
import type { ClientRecord } from "./model.js";
import { displaySafe } from "../text/untrusted.js";

/** "Gajim 1.9.5 on Juliet's laptop", display-safe; says so when the client named nothing. */
export function describeClient(c: ClientRecord): string {
  const ua = c.userAgent;
  const software = [ua.software, ua.version].filter((p): p is string => p !== null && p !== "").join(" ");
  const device = ua.device ? ua.device : "";
  if (software && device) return displaySafe(`${software} on ${device}`);
  if (software) return displaySafe(software);
  if (device) return `unknown software on ${displaySafe(device)}`;
  return c.type === "access" ? "a grant without a client name" : "a client that sent no name";
}

/** "client/abc (Gajim 1.9.5 on laptop)": how camctl names the entry everywhere. */
export function clientLabel(c: ClientRecord, bold: (s: string) => string = (s) => s): string {
  return `${bold(displaySafe(c.id))} (${describeClient(c)})`;
}

/** Nothing on the account matches what the operator named. */
export function noMatchError(jid: string, selector: string): CamError {
  const who = displaySafe(jid);
  return new CamError(
    "notFound",
    `No client matches ${displaySafe(selector)} for ${who}; nothing was revoked. List them with \`camctl user clients ${who}\`.`,
    "item-not-found",
  );
}

/** The entry shown is no longer listed when the revocation comes to it. */
export function goneError(jid: string, entry: ClientRecord): CamError {
  return new CamError(
    "notFound",
    `${clientLabel(entry)} is no longer listed for ${displaySafe(jid)} (it was revoked, or its access ended, after camctl looked); nothing was revoked.`,
    "gone",
  );
}

/** The id shown now names a different client (checked before anything is revoked). */
export function changedError(jid: string, entry: ClientRecord): CamError {
  const who = displaySafe(jid);
  return new CamError(
    "notFound",
    `${displaySafe(entry.id)} is now listed for ${who} as a different client than the one shown (${describeClient(entry)}); nothing was revoked. ` +
      `Look again with \`camctl user clients ${who}\`.`,
    "changed",
  );
}
