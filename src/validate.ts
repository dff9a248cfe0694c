// Input checks done before anything is sent to a server. The server still has the last word
// (it runs stringprep); these catch what can only be a mistake and keep odd bytes out of requests.
import { usageError } from "./errors.js";
import { displaySafe } from "./render/sanitize.js";

/** Echoes user input inside a message without letting control characters through. */
const quoted = (s: string) => `"${displaySafe(s)}"`;

// RFC 7622 forbids these in a localpart; controls and spaces are never valid anywhere in a JID.
const LOCALPART_FORBIDDEN = /["&'/:<>@\s\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const DOMAIN_LABEL = /^(?!-)[\p{L}\p{N}-]{1,63}(?<!-)$/u;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const MAX_PART_BYTES = 1023;

const byteLength = (s: string) => Buffer.byteLength(s, "utf8");

/** Returns the bare JID (domain lowercased) or throws a usage error that says what is wrong. */
export function parseBareJid(input: string, what = "JID"): string {
  const shown = quoted(input);
  if (input.length === 0) throw usageError(`The ${what} is empty; give an account such as alice@example.com.`);
  if (input.includes("/")) {
    throw usageError(`The ${what} ${shown} has a resource part; give the bare account JID, e.g. alice@example.com.`);
  }
  const at = input.lastIndexOf("@");
  if (at <= 0) throw usageError(`The ${what} ${shown} is not an account JID; expected user@domain, e.g. alice@example.com.`);
  const local = input.slice(0, at);
  const domain = input.slice(at + 1).replace(/\.$/, "").toLowerCase();
  if (LOCALPART_FORBIDDEN.test(local)) {
    throw usageError(`The ${what} ${shown} has a character that is not allowed before the @.`);
  }
  if (byteLength(local) > MAX_PART_BYTES) throw usageError(`The ${what} is too long before the @ (over ${MAX_PART_BYTES} bytes).`);
  if (!isValidDomain(domain)) throw usageError(`The ${what} ${shown} does not end in a valid domain name.`);
  return `${local}@${domain}`;
}

export function isValidDomain(domain: string): boolean {
  if (domain.length === 0 || byteLength(domain) > MAX_PART_BYTES) return false;
  if (IPV4.test(domain)) return domain.split(".").every((n) => Number(n) <= 255);
  if (domain.startsWith("[") && domain.endsWith("]")) return /^\[[0-9a-f:.]+\]$/.test(domain);
  return domain.split(".").every((label) => DOMAIN_LABEL.test(label));
}

export interface Selector {
  kind: "client" | "grant" | "software";
  /** Full selector text as the server takes it, e.g. "grant/HjEEr45_LQr". */
  text: string;
  /** For client/grant: the id part; for software: the name. */
  name: string;
  version: string | null;
}

const SELECTOR_FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
const MAX_SELECTOR_BYTES = 1023;

export function parseSelector(input: string): Selector {
  const help = "Use client/<id> or grant/<id> (from `camctl user clients`), or software/<name>[/<version>].";
  if (SELECTOR_FORBIDDEN.test(input)) throw usageError(`The selector contains control or invisible characters. ${help}`);
  if (byteLength(input) > MAX_SELECTOR_BYTES) throw usageError(`The selector is too long (over ${MAX_SELECTOR_BYTES} bytes).`);
  const slash = input.indexOf("/");
  const kind = slash > 0 ? input.slice(0, slash) : "";
  const rest = slash > 0 ? input.slice(slash + 1) : "";
  if ((kind === "client" || kind === "grant") && rest.length > 0 && !/\s/.test(rest) && !rest.includes("/")) {
    return { kind, text: input, name: rest, version: null };
  }
  if (kind === "software" && rest.length > 0) {
    const cut = rest.indexOf("/");
    const name = cut === -1 ? rest : rest.slice(0, cut);
    const version = cut === -1 ? null : rest.slice(cut + 1);
    if (name.length > 0 && version !== "") return { kind, text: input, name, version };
  }
  throw usageError(`${quoted(input)} is not a selector camctl understands. ${help}`);
}
