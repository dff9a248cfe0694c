// Address resolution, the loopback rule for --tls none, TLS settings and TLS failure messages.
import { test } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { isLoopbackAddress, lookupHost, refuseUnlessLoopback, resolveTargets, tlsError, tlsOptions } from "../../src/transports/xmpp/connect.js";
import { CamError, exitCodeFor } from "../../src/core/errors.js";

test("loopback addresses", () => {
  for (const a of ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1", "0:0:0:0:0:0:0:1"]) assert.equal(isLoopbackAddress(a), true, a);
  for (const a of ["10.0.0.1", "192.168.1.1", "::", "::ffff:10.0.0.1", "2001:db8::1", "128.0.0.1", "localhost"]) assert.equal(isLoopbackAddress(a), false, a);
});

test("--tls none: only names whose every address is loopback", async () => {
  const never = new AbortController().signal;
  assert.deepEqual(await lookupHost("127.0.0.1", never), ["127.0.0.1"], "an address is not looked up");
  const local = await lookupHost("localhost", never);
  assert.ok(local.length > 0 && local.every(isLoopbackAddress), local.join(","));
  refuseUnlessLoopback("localhost", local);
  const refused = (e: unknown) => e instanceof CamError && exitCodeFor(e) === 2 && /loopback/.test(e.message);
  assert.throws(() => refuseUnlessLoopback("mixed.example", ["127.0.0.1", "192.0.2.1"]), (e: unknown) => refused(e) && /192\.0\.2\.1/.test((e as Error).message));
  assert.throws(() => refuseUnlessLoopback("nothing.example", []), refused);
});

test("host lookups obey the signal: an aborted one rejects with its reason and starts nothing", async () => {
  const controller = new AbortController();
  const reason = new CamError("unreachable", "deadline");
  controller.abort(reason);
  await assert.rejects(lookupHost("localhost", controller.signal), (e: unknown) => e === reason);
  await assert.rejects(resolveTargets("example.com", undefined, "starttls", controller.signal, async () => []), (e: unknown) => e === reason);
});

test("--server wins over DNS; default ports per TLS mode", async () => {
  const never = async () => assert.fail("no DNS lookup with --server");
  const signal = new AbortController().signal;
  assert.deepEqual(await resolveTargets("example.com", { host: "xmpp.example.net", port: undefined }, "starttls", signal, never), [{ host: "xmpp.example.net", port: 5222 }]);
  assert.deepEqual(await resolveTargets("example.com", { host: "::1", port: 15223 }, "direct", signal, never), [{ host: "::1", port: 15223 }]);
  assert.deepEqual(await resolveTargets("example.com", { host: "h", port: undefined }, "direct", signal, never), [{ host: "h", port: 5223 }]);
});

test("SRV: the right service name per mode, RFC 2782 order, fallback to the domain, '.' means no service", async () => {
  const signal = new AbortController().signal;
  const asked: string[] = [];
  const srv = async (name: string) => {
    asked.push(name);
    return [
      { name: "b.example.com.", port: 5222, priority: 10, weight: 5 },
      { name: "a.example.com", port: 5223, priority: 5, weight: 0 },
      { name: "c.example.com", port: 5224, priority: 10, weight: 50 },
    ];
  };
  assert.deepEqual(await resolveTargets("example.com", undefined, "starttls", signal, srv), [
    { host: "a.example.com", port: 5223 },
    { host: "c.example.com", port: 5224 },
    { host: "b.example.com", port: 5222 },
  ]);
  await resolveTargets("example.com", undefined, "direct", signal, srv);
  assert.deepEqual(asked, ["_xmpp-client._tcp.example.com", "_xmpps-client._tcp.example.com"]);

  const none = async () => {
    throw Object.assign(new Error("queryNoData"), { code: "ENODATA" });
  };
  assert.deepEqual(await resolveTargets("example.com", undefined, "starttls", signal, none), [{ host: "example.com", port: 5222 }]);
  assert.deepEqual(await resolveTargets("example.com", undefined, "direct", signal, none), [{ host: "example.com", port: 5223 }]);

  const dot = async () => [{ name: ".", port: 0, priority: 0, weight: 0 }];
  await assert.rejects(resolveTargets("example.com", undefined, "starttls", signal, dot), (e: unknown) => e instanceof CamError && exitCodeFor(e) === 3);
});

test("TLS always names the JID's domain, verifies, and adds --ca-file to the system's CAs", () => {
  const o = tlsOptions({ domain: "example.com", caPem: "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n" });
  assert.equal(o.servername, "example.com");
  assert.equal(o.rejectUnauthorized, true);
  assert.ok(Array.isArray(o.ca) && o.ca.length === tls.rootCertificates.length + 1);
  assert.equal(tlsOptions({ domain: "example.com", caPem: undefined }).ca, undefined, "system CAs by default");
  assert.equal(tlsOptions({ domain: "192.0.2.1", caPem: undefined }).servername, undefined, "no SNI for an IP literal");
  // The identity check ignores the address connected to and uses the domain.
  const err = o.checkServerIdentity!("127.0.0.1", { subject: { CN: "other.example" }, subjectaltname: "DNS:other.example" } as never);
  assert.ok(err instanceof Error);
  assert.equal(o.checkServerIdentity!("127.0.0.1", { subject: { CN: "x" }, subjectaltname: "DNS:example.com" } as never), undefined);
});

test("TLS failures say why, suggest --ca-file where trust is the problem, and exit 3", () => {
  const t = { host: "127.0.0.1", port: 5222 };
  const e = (code: string, message = code) => tlsError(Object.assign(new Error(message), { code }), t, "example.com");
  const selfSigned = e("DEPTH_ZERO_SELF_SIGNED_CERT", "self-signed certificate");
  assert.equal(exitCodeFor(selfSigned), 3);
  assert.match(selfSigned.message, /self-signed/);
  assert.match(selfSigned.message, /--ca-file/);
  assert.match(e("UNABLE_TO_VERIFY_LEAF_SIGNATURE").message, /does not trust.*--ca-file/);
  assert.match(e("SELF_SIGNED_CERT_IN_CHAIN").message, /self-signed CA/);
  assert.match(e("CERT_HAS_EXPIRED").message, /expired/);
  assert.match(e("ERR_TLS_CERT_ALTNAME_INVALID", "Hostname/IP does not match certificate's altnames").message, /not valid for example\.com/);
  assert.match(e("ERR_SSL_WRONG_VERSION_NUMBER", "wrong version number").message, /--tls starttls/);
  assert.match(e("ECONNREFUSED").message, /connection refused/);
});
