// The SASL mechanisms camctl logs in with, in order of preference.
//   SCRAM-SHA-256  RFC 7677  https://www.rfc-editor.org/rfc/rfc7677
//   SCRAM-SHA-1    RFC 5802  https://www.rfc-editor.org/rfc/rfc5802
//   PLAIN          RFC 4616  https://www.rfc-editor.org/rfc/rfc4616 (only ever inside TLS, or to loopback with --tls none)
// Written for camctl instead of using sasl-scram-sha-1 (what @xmpp/client bundles) because that one
// runs PBKDF2 as thousands of sequential WebCrypto calls (about a second per login), never checks
// the server's signature or nonce, and base64-encodes UTF-8 text wrongly through btoa(). Here the
// server must prove it knows the password too (the "v=" signature), or the login fails.
//
// The salted password is hashed without blocking the event loop (crypto.pbkdf2 in Node's thread
// pool), so the deadline and Ctrl-C are handled while it runs. A job in the thread pool cannot be
// abandoned, though (process.exit waits for it), so the iteration count a server may ask for is
// capped where hashing takes a fraction of a second.
//
// Interface: the "saslmechanisms" factory that xmpp.js uses (`name`, `clientFirst`, `response`,
// `challenge`, `final`). `response` may return a promise (xmpp.js awaits it). Strings crossing it
// are "binary strings" (one char per byte) because xmpp.js base64-encodes them with btoa() and
// decodes with atob().
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";

export const SCRAM_SHA_256 = "SCRAM-SHA-256";
export const SCRAM_SHA_1 = "SCRAM-SHA-1";
export const PLAIN = "PLAIN";

/** Below this, a server is asking for a trivially brute-forced hash (RFC 7677 §4 says at least 4096). */
export const MIN_ITERATIONS = 4096;
/**
 * Above this, a server is asking for more work than any real one does (4,096 to a few hundred
 * thousand; Prosody uses 10,000), which only a hostile one would: about 0.2 s (SHA-256) to 0.4 s
 * (SHA-1) on a 2020s CPU, and the longest camctl can take to end after its deadline or Ctrl-C.
 */
export const MAX_ITERATIONS = 1_000_000;

const pbkdf2Async = promisify(pbkdf2);

export interface SaslCredentials {
  username: string;
  password: string;
  authzid?: string;
}

/** Raised when the server's side of SCRAM is wrong; reported as an authentication failure (login-errors.ts). */
export class ScramServerError extends Error {
  override name = "ScramServerError";
}

/**
 * Per login: whether SCRAM was used and the server's signature checked. xmpp.js passes the
 * server's final message on only when SASL2's <success> carries <additional-data> (and never for
 * legacy SASL), so features/sasl.ts feeds it in itself, and login.ts insists on `verified`
 * afterwards. `signal` (the deadline) keeps a hash from starting once it has aborted.
 */
export class ScramTracker {
  expected: Buffer | null = null;
  verified = false;

  constructor(readonly signal?: AbortSignal) {}

  get pending(): boolean {
    return this.expected !== null && !this.verified;
  }

  /** Checks the server-final-message ("v=..."), given as a binary string. */
  verify(data: string): void {
    const attrs = parseAttributes(fromBinary(data));
    if (attrs.has("e")) throw new ScramServerError(`the server reported ${attrs.get("e")}`);
    const v = Buffer.from(attrs.get("v") ?? "", "base64");
    const expected = this.expected;
    if (!expected || v.length !== expected.length || !timingSafeEqual(v, expected)) {
      throw new ScramServerError("the server could not prove that it knows the account's password (SCRAM server signature mismatch)");
    }
    this.verified = true;
  }
}

const toBinary = (s: string) => Buffer.from(s, "utf8").toString("latin1");
const fromBinary = (s: string) => Buffer.from(s, "latin1").toString("utf8");

/**
 * SASLprep (RFC 4013), as far as it matters for passwords people type: non-ASCII spaces become
 * spaces, "mapped to nothing" characters go, then NFKC. The server applies the same profile.
 */
export function saslPrep(s: string): string {
  return s
    .replace(/[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g, " ")
    .replace(/[\u00AD\u034F\u1806\u180B-\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g, "")
    .normalize("NFKC");
}

/** RFC 5802 saslname: "," and "=" are escaped. */
const saslName = (s: string) => s.replace(/=/g, "=3D").replace(/,/g, "=2C");

function parseAttributes(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(",")) {
    const eq = part.indexOf("=");
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

function scramMechanism(
  tracker: ScramTracker,
  name: string,
  hash: "sha1" | "sha256",
  keyLength: number,
  makeNonce: () => string = () => randomBytes(18).toString("base64"),
) {
  const hmac = (key: Buffer, data: string | Buffer) => createHmac(hash, key).update(data).digest();
  const h = (data: Buffer) => createHash(hash).update(data).digest();

  class Scram {
    static readonly mechanismName = name;
    private stage: "first" | "final" | "done" = "first";
    private clientNonce = makeNonce();
    private clientFirstBare = "";
    private serverFirst = "";

    response(cred: SaslCredentials): string | Promise<string> {
      if (this.stage === "first") {
        this.stage = "final";
        this.clientFirstBare = `n=${saslName(cred.username)},r=${this.clientNonce}`;
        const gs2 = `n,${cred.authzid ? `a=${saslName(cred.authzid)}` : ""},`;
        return toBinary(gs2 + this.clientFirstBare);
      }
      if (this.stage === "final") {
        this.stage = "done";
        return this.clientFinal(cred);
      }
      return "";
    }

    private async clientFinal(cred: SaslCredentials): Promise<string> {
      const attrs = parseAttributes(this.serverFirst);
      if (attrs.has("e")) throw new ScramServerError(`the server reported ${attrs.get("e")}`);
      const nonce = attrs.get("r") ?? "";
      const salt = Buffer.from(attrs.get("s") ?? "", "base64");
      const iterations = Number(attrs.get("i"));
      if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) {
        throw new ScramServerError("the server's nonce does not extend camctl's");
      }
      if (salt.length === 0) throw new ScramServerError("the server sent no salt");
      if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS) {
        throw new ScramServerError(`the server asked for ${attrs.get("i")} hash iterations, fewer than the ${MIN_ITERATIONS} SCRAM requires`);
      }
      if (iterations > MAX_ITERATIONS) {
        throw new ScramServerError(
          `the server asked for ${iterations} hash iterations, more than the ${MAX_ITERATIONS} camctl allows (real servers use 4096 to a few hundred thousand)`,
        );
      }
      const gs2 = `n,${cred.authzid ? `a=${saslName(cred.authzid)}` : ""},`;
      const finalWithoutProof = `c=${Buffer.from(gs2, "utf8").toString("base64")},r=${nonce}`;
      tracker.signal?.throwIfAborted();
      const salted = await pbkdf2Async(saslPrep(cred.password), salt, iterations, keyLength, hash);
      const clientKey = hmac(salted, "Client Key");
      const serverKey = hmac(salted, "Server Key");
      const authMessage = `${this.clientFirstBare},${this.serverFirst},${finalWithoutProof}`;
      const clientSignature = hmac(h(clientKey), authMessage);
      const proof = Buffer.alloc(clientKey.length);
      for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
      tracker.expected = hmac(serverKey, authMessage);
      tracker.verified = false;
      return toBinary(`${finalWithoutProof},p=${proof.toString("base64")}`);
    }

    challenge(chal: string): this {
      if (this.stage === "final") this.serverFirst = fromBinary(chal);
      else if (this.stage === "done") this.final(chal);
      return this;
    }

    /** The server's final message: its signature must match, proving it knows the password too. */
    final(data: string): void {
      tracker.verify(data);
    }
  }
  Object.assign(Scram.prototype, { name, clientFirst: true });
  return Scram;
}


export class Plain {
  static readonly mechanismName = PLAIN;
  response(cred: SaslCredentials): string {
    return toBinary(`${cred.authzid ?? ""}\0${cred.username}\0${cred.password}`);
  }
  challenge(): this {
    return this;
  }
}
Object.assign(Plain.prototype, { name: PLAIN, clientFirst: true });

/** Registers camctl's mechanisms, most preferred first, with a saslmechanisms factory. */
export function useMechanisms(factory: { use(mech: unknown): unknown }, tracker: ScramTracker): void {
  factory.use(scramMechanism(tracker, SCRAM_SHA_256, "sha256", 32));
  factory.use(scramMechanism(tracker, SCRAM_SHA_1, "sha1", 20));
  factory.use(Plain);
}

export { scramMechanism };
