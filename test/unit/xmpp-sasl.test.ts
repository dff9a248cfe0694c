// camctl's SASL mechanisms against the RFCs' own test vectors, and the checks on the server's side.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MAX_ITERATIONS, Plain, SCRAM_SHA_1, SCRAM_SHA_256, ScramTracker, saslPrep, scramMechanism, useMechanisms } from "../../src/transports/xmpp/sasl-mechanisms.js";

// Mechanism strings are "binary strings" (one char per byte), as xmpp.js base64-encodes them with btoa().
const bin = (s: string) => Buffer.from(s, "utf8").toString("latin1");

type Mech = { response(c: { username: string; password: string }): string | Promise<string>; challenge(s: string): unknown; final(s: string): void; name: string; clientFirst: boolean };

test("SCRAM-SHA-1: RFC 5802 §5 example exchange, including the server's signature", async () => {
  const tracker = new ScramTracker();
  const M = scramMechanism(tracker, SCRAM_SHA_1, "sha1", 20, () => "fyko+d2lbbFgONRv9qkxdawL");
  const m = new M() as unknown as Mech;
  assert.equal(m.name, "SCRAM-SHA-1");
  assert.equal(m.clientFirst, true);
  const cred = { username: "user", password: "pencil" };
  assert.equal(m.response(cred), "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
  m.challenge("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
  assert.equal(await m.response(cred), "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=");
  assert.equal(tracker.pending, true);
  m.final("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
  assert.equal(tracker.verified, true);
  assert.equal(tracker.pending, false);
});

test("SCRAM-SHA-256: RFC 7677 §3 example exchange", async () => {
  const tracker = new ScramTracker();
  const M = scramMechanism(tracker, SCRAM_SHA_256, "sha256", 32, () => "rOprNGfwEbeRWgbNEkqO");
  const m = new M() as unknown as Mech;
  const cred = { username: "user", password: "pencil" };
  assert.equal(m.response(cred), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
  m.challenge("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
  assert.equal(
    await m.response(cred),
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  );
  m.final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  assert.equal(tracker.verified, true);
});

test("SCRAM: a wrong server signature, an unextended nonce or an iteration count out of bounds abort the login", async () => {
  const cred = { username: "user", password: "pencil" };
  const mk = () => {
    const tracker = new ScramTracker();
    const M = scramMechanism(tracker, SCRAM_SHA_1, "sha1", 20, () => "fyko+d2lbbFgONRv9qkxdawL");
    return { m: new M() as unknown as Mech, tracker };
  };
  {
    const { m, tracker } = mk();
    m.response(cred);
    m.challenge("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
    await m.response(cred);
    assert.throws(() => m.final("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA="), { name: "ScramServerError", message: /prove/ });
    assert.equal(tracker.verified, false);
    assert.throws(() => m.final("e=other-error"), { name: "ScramServerError", message: /other-error/ });
  }
  {
    const { m } = mk();
    m.response(cred);
    m.challenge("r=somebodyelse,s=QSXCR+Q6sek8bf92,i=4096");
    await assert.rejects(async () => m.response(cred), { name: "ScramServerError", message: /nonce/ });
  }
  {
    const { m } = mk();
    m.response(cred);
    m.challenge("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=1");
    await assert.rejects(async () => m.response(cred), { name: "ScramServerError", message: /iterations, fewer than the 4096/ });
  }
  {
    // A hostile server asking for ten million iterations is refused at once, before any hashing.
    const { m } = mk();
    m.response(cred);
    m.challenge(`r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=${10_000_000}`);
    const started = Date.now();
    await assert.rejects(async () => m.response(cred), { name: "ScramServerError", message: /10000000 hash iterations, more than the 1000000 camctl allows/ });
    // Hashing them would take seconds; a refusal takes nothing (the bound allows for a busy machine).
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
  }
});

test("SCRAM hashes without blocking the event loop, and starts no hash once the deadline has passed", async () => {
  const cred = { username: "user", password: "pencil" };
  const tracker = new ScramTracker();
  const M = scramMechanism(tracker, SCRAM_SHA_256, "sha256", 32, () => "abc");
  const m = new M() as unknown as Mech;
  m.response(cred);
  m.challenge(`r=abcdef,s=QSXCR+Q6sek8bf92,i=${MAX_ITERATIONS}`);
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 5);
  try {
    await m.response(cred);
  } finally {
    clearInterval(ticker);
  }
  assert.ok(ticks > 0, "timers ran while the hash was computed");

  const controller = new AbortController();
  const reason = new Error("deadline");
  const late = scramMechanism(new ScramTracker(controller.signal), SCRAM_SHA_256, "sha256", 32, () => "abc");
  const n = new late() as unknown as Mech;
  n.response(cred);
  n.challenge("r=abcdef,s=QSXCR+Q6sek8bf92,i=4096");
  controller.abort(reason);
  await assert.rejects(async () => n.response(cred), (e: unknown) => e === reason);
});

test("SCRAM: usernames with , and = are escaped; non-ASCII text is sent as UTF-8", () => {
  const tracker = new ScramTracker();
  const M = scramMechanism(tracker, SCRAM_SHA_1, "sha1", 20, () => "abc");
  const m = new M() as unknown as Mech;
  assert.equal(m.response({ username: "a,b=c", password: "x" }), "n,,n=a=2Cb=3Dc,r=abc");
  const u = new M() as unknown as Mech;
  assert.equal(u.response({ username: "jürgen", password: "x" }), bin("n,,n=jürgen,r=abc"));
  const w = new M() as unknown as Mech;
  assert.doesNotThrow(() => btoa(w.response({ username: "日本", password: "x" }) as string));
});

test("PLAIN sends authzid NUL user NUL password as UTF-8 bytes", () => {
  const p = new Plain();
  assert.equal(p.response({ username: "alice", password: "pässwörd" }), bin("\0alice\0pässwörd"));
  assert.equal(Buffer.from(btoa(p.response({ username: "a", password: "é" })), "base64").toString("utf8"), "\0a\0é");
});

test("saslPrep maps non-ASCII spaces, drops mapped-to-nothing characters, applies NFKC", () => {
  assert.equal(saslPrep("I\u00ADX"), "IX");
  assert.equal(saslPrep("a\u00A0b"), "a b");
  assert.equal(saslPrep("\u2168"), "IX");
  assert.equal(saslPrep("plain"), "plain");
});

test("the mechanisms are offered most preferred first", () => {
  const names: string[] = [];
  useMechanisms({ use: (m: unknown) => names.push((m as { prototype: { name: string } }).prototype.name) }, new ScramTracker());
  assert.deepEqual(names, ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"]);
});
