// Input checks done before anything is sent to a server. The server still has the last word
// (it runs stringprep); these catch what can only be a mistake and keep odd bytes out of requests.
import { usageError } from "./errors.js";
import { msg } from "../text/untrusted.js";

// RFC 7622 forbids these in a localpart; controls and spaces are never valid anywhere in a JID.
// The /u patterns are made on first use, and only for text that is not ASCII: on ASCII the
// second pattern of each pair means exactly the same (\s, \p{Cc}: \x00-\x20, \x7f; \p{Cf},
// \p{Zl}, \p{Zp}: none; \p{L}: A-Z, a-z; \p{N}: 0-9), and costs start-up nothing to build.
let localpartForbidden: RegExp | undefined;
const LOCALPART_FORBIDDEN_ASCII = /["&'/:<>@\x00-\x20\x7f]/;
let domainLabel: RegExp | undefined;
const DOMAIN_LABEL_ASCII = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const ASCII = /^[\x00-\x7f]*$/;
const forbiddenInLocalpart = (s: string) =>
  ASCII.test(s) ? LOCALPART_FORBIDDEN_ASCII.test(s) : (localpartForbidden ??= /["&'/:<>@\s\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u).test(s);
const isDomainLabel = (s: string) =>
  ASCII.test(s) ? DOMAIN_LABEL_ASCII.test(s) : (domainLabel ??= /^(?!-)[\p{L}\p{N}-]{1,63}(?<!-)$/u).test(s);
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const MAX_PART_BYTES = 1023;

const byteLength = (s: string) => Buffer.byteLength(s, "utf8");

/**
 * --timeout and a context's timeout: seconds from 0.1 to 3600. Below 0.1 s not even the local
 * admin socket answers reliably, so such a value (1e-9, 0.001) is a mistake, not a deadline.
 */
export const TIMEOUT_RANGE = "a number of seconds from 0.1 to 3600";
export const isTimeoutSeconds = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n) && n >= 0.1 && n <= 3600;

/** The virtual host as Prosody names it: a domain, lowercased, without a trailing dot. */
export function parseHost(input: string): string {
  const host = input.replace(/\.$/, "").toLowerCase();
  if (input.includes("@") || input.includes("/") || !isValidDomain(host)) {
    throw usageError(msg`"${input}" is not a virtual host name; give a domain such as example.com.`);
  }
  return host;
}

/** Returns the bare JID (domain lowercased) or throws a usage error that says what is wrong. */
export function parseBareJid(input: string, what = "JID"): string {
  const shown = msg`"${input}"`;
  if (input.length === 0) throw usageError(`The ${what} is empty; give an account such as alice@example.com.`);
  if (input.includes("/")) {
    throw usageError(msg`The ${what} ${shown} has a resource part; give the bare account JID, e.g. alice@example.com.`);
  }
  const at = input.lastIndexOf("@");
  if (at <= 0) throw usageError(msg`The ${what} ${shown} is not an account JID; expected user@domain, e.g. alice@example.com.`);
  const local = input.slice(0, at);
  const domain = input.slice(at + 1).replace(/\.$/, "").toLowerCase();
  if (forbiddenInLocalpart(local)) {
    throw usageError(msg`The ${what} ${shown} has a character that is not allowed before the @.`);
  }
  if (byteLength(local) > MAX_PART_BYTES) throw usageError(`The ${what} is too long before the @ (over ${MAX_PART_BYTES} bytes).`);
  if (!isValidDomain(domain)) throw usageError(msg`The ${what} ${shown} does not end in a valid domain name.`);
  return `${local}@${domain}`;
}

/**
 * A JID in the form the server compares it, approximately. Prosody preps JIDs (stringprep:
 * nodeprep/nameprep, i.e. case folding and NFKC), so "Ａlice@Example.com" and "alice@example.com"
 * name one account and replies come from the prepped form. NFKC plus full case folding, which
 * upper- then lower-casing approximates ("ß" -> "SS" -> "ss"), covers what people meet in practice.
 */
export function comparableJid(jid: string): string {
  return jid.normalize("NFKC").toUpperCase().toLowerCase().normalize("NFKC");
}

export function isValidDomain(domain: string): boolean {
  if (domain.length === 0 || byteLength(domain) > MAX_PART_BYTES) return false;
  if (IPV4.test(domain)) return domain.split(".").every((n) => Number(n) <= 255);
  if (domain.startsWith("[") && domain.endsWith("]")) return /^\[[0-9a-f:.]+\]$/.test(domain);
  return domain.split(".").every((label) => isDomainLabel(label));
}

export type SelectorKind = "client" | "grant" | "software";

export interface Selector {
  kind: SelectorKind;
  /** Full selector text as typed, e.g. "grant/HjEEr45_LQr" or "software/Gajim/1.9.5". */
  text: string;
  /** Everything after "<kind>/": the id's own part, or the software text ("Gajim" or "Gajim/1.9.5"). */
  rest: string;
}

const SELECTOR_HELP =
  "Use an id as `camctl user clients` lists it (client/<id> or grant/<id>; quote it if it has spaces, e.g. 'client/my phone'), or software/<name>[/<version>].";

/**
 * A selector as the server understands it. Client ids are chosen by the clients themselves, so
 * after "client/" anything is accepted ("/", spaces, any character): camctl only compares it with
 * the listed ids and sends the listed id, never this text. Only an empty part is refused.
 */
export function parseSelector(input: string): Selector {
  const slash = input.indexOf("/");
  const kind = slash > 0 ? input.slice(0, slash) : "";
  const rest = slash > 0 ? input.slice(slash + 1) : "";
  if (kind !== "client" && kind !== "grant" && kind !== "software") {
    // A bare id, as copied from a listing's ID column without its kind: name both forms to try.
    if (input.length > 0 && !input.includes("/")) {
      throw usageError(
        msg`"${input}" is not a selector camctl understands: a selector names its kind. Did you mean "client/${input}" (or "grant/${input}" if it is a grant's id)? ${SELECTOR_HELP}`,
      );
    }
    throw usageError(msg`"${input}" is not a selector camctl understands. ${SELECTOR_HELP}`);
  }
  if (rest.length === 0) {
    const why =
      kind === "software"
        ? "The selector software/ names no software: give the name (and optionally /<version>) after the slash."
        : `The selector ${kind}/ names no ${kind}: the part after the slash is empty. ` +
          (kind === "client"
            ? "A client that sent an empty id is listed as client/, but the server cannot revoke it by that id; changing the account's password ends its access."
            : "Give the id exactly as `camctl user clients` lists it.");
    throw usageError(why);
  }
  return { kind, text: input, rest };
}
