// camctl against tiny fake XMPP servers on loopback that misbehave in ways a real Prosody will not:
// no STARTTLS offered (a stripped stream), STARTTLS refused, silence, malformed XML, early close,
// stream errors (redirects included) at every stage, floods, absurd SCRAM iteration counts.
// Each records every byte camctl sends, so the tests can prove no credentials ever left.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { lateAllowanceMs, runCamctl } from "../helpers/run-camctl.js";
import { selfSignedCert, tcpPeer, when, type PeerBehaviour } from "../helpers/fault-peers.js";

const PASSWORD = "fake-server-secret-Pa55";
const JID = "alice@fake.test";

const HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='fake1' from='fake.test' version='1.0'>`;
const AUTH_FEATURES =
  `<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms>` +
  `<authentication xmlns='urn:xmpp:sasl:2'><mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism></authentication>`;



let home: string;
before(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-fake-"));
});
after(() => fs.rmSync(home, { recursive: true, force: true }));

function camctl(port: number, extra: string[] = [], timeoutSeconds = 5) {
  return runCamctl(["user", "clients", JID, "--jid", JID, "--server", `127.0.0.1:${port}`, "--timeout", String(timeoutSeconds), ...extra], {
    env: { HOME: home, XDG_STATE_HOME: path.join(home, "state"), XDG_CONFIG_HOME: path.join(home, "config"), CAMCTL_PASSWORD: PASSWORD },
    timeoutMs: 30_000,
  });
}

function assertNoCredentials(received: string[]): void {
  for (const text of received) {
    assert.doesNotMatch(text, /<auth[\s>]/, "no legacy SASL <auth>");
    assert.doesNotMatch(text, /<authenticate[\s>]/, "no SASL2 <authenticate>");
    assert.ok(!text.includes(PASSWORD), "the password never left");
    assert.ok(!text.includes(Buffer.from(`\0alice\0${PASSWORD}`).toString("base64")), "no PLAIN blob");
  }
}

function oneSentence(stderr: string): void {
  assert.equal(stderr.trim().split("\n").length, 1, stderr);
  assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
  assert.ok(!stderr.includes(PASSWORD));
}

describe("refusing to authenticate on an unencrypted stream", () => {
  test("a server that does not offer STARTTLS: exit 3 before any credentials are sent, and camctl says why", async () => {
    const srv = await tcpPeer((sock, received) => {
      when(sock, received, /<stream:stream/, () => sock.write(`${HEADER}<stream:features>${AUTH_FEATURES}</stream:features>`));
    });
    try {
      const r = await camctl(srv.port);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /did not offer STARTTLS/);
      assert.match(r.stderr, /before sending any credentials/);
      oneSentence(r.stderr);
      assert.ok(srv.received.length >= 1 && srv.received[0]!.includes("<stream:stream"), "camctl did talk to it");
      assertNoCredentials(srv.received);
    } finally {
      await srv.close();
    }
  });

  test("a server that offers STARTTLS and then refuses it: exit 3, no credentials", async () => {
    const srv = await tcpPeer((sock, received) => {
      when(sock, received, /<stream:stream/, () =>
        sock.write(`${HEADER}<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>${AUTH_FEATURES}</stream:features>`),
      );
      when(sock, received, /<starttls/, () => sock.end(`<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>`));
    });
    try {
      const r = await camctl(srv.port);
      assert.equal(r.code, 3, r.stderr);
      oneSentence(r.stderr);
      assertNoCredentials(srv.received);
    } finally {
      await srv.close();
    }
  });

  test("--tls none is honoured only for loopback: there the login may go ahead in plaintext", async () => {
    const srv = await tcpPeer((sock, received) => {
      when(sock, received, /<stream:stream/, () => sock.write(`${HEADER}<stream:features>${AUTH_FEATURES}</stream:features>`));
      when(sock, received, /<authenticate/, () =>
        sock.write(`<failure xmlns='urn:xmpp:sasl:2'><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></failure>`),
      );
    });
    try {
      const r = await camctl(srv.port, ["--tls", "none"]);
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /wrong password or account/);
      assert.match(srv.received.join(""), /<authenticate[\s>]/, "the explicit loopback exception lets the login through");
      assert.match(srv.received.join(""), /mechanism="SCRAM-SHA-1"/, "and still prefers SCRAM over PLAIN");
      oneSentence(r.stderr);
    } finally {
      await srv.close();
    }
  });

  test("--tls none to an address that is not loopback is refused before connecting (2)", async () => {
    const r = await runCamctl(["user", "clients", JID, "--jid", JID, "--server", "192.0.2.1:5222", "--tls", "none"], {
      env: { HOME: home, XDG_STATE_HOME: path.join(home, "state"), CAMCTL_PASSWORD: PASSWORD },
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /loopback/);
  });
});

describe("broken servers end within --timeout with exit 3 and one sentence", () => {
  test("a server that accepts and never answers", async () => {
    const srv = await tcpPeer(() => undefined);
    try {
      const r = await camctl(srv.port, [], 2);
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.stderr, `camctl: No answer from the XMPP server at 127.0.0.1:${srv.port} within 2 s; is it overloaded or stuck? Raise --timeout to wait longer.\n`);
      assert.ok(r.ms < 8000, `took ${r.ms} ms`);
      oneSentence(r.stderr);
      assertNoCredentials(srv.received);
    } finally {
      await srv.close();
    }
  });

  test("a server that sends malformed XML", async () => {
    const srv = await tcpPeer((sock, received) => {
      when(sock, received, /<stream:stream/, () => sock.write(`${HEADER}<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>&#x1b;</bad>`));
    });
    try {
      const r = await camctl(srv.port);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /malformed XML|closed the connection/);
      oneSentence(r.stderr);
      assertNoCredentials(srv.received);
    } finally {
      await srv.close();
    }
  });

  test("a server that closes the stream early", async () => {
    const srv = await tcpPeer((sock, received) => {
      when(sock, received, /<stream:stream/, () => sock.end(`${HEADER}</stream:stream>`));
    });
    try {
      const r = await camctl(srv.port);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /closed the connection/);
      oneSentence(r.stderr);
    } finally {
      await srv.close();
    }
  });

  test("--tls direct against a port that does not speak TLS", async () => {
    const srv = await tcpPeer((sock) => sock.write(HEADER));
    try {
      const r = await camctl(srv.port, ["--tls", "direct"]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /TLS/);
      oneSentence(r.stderr);
      assertNoCredentials(srv.received);
    } finally {
      await srv.close();
    }
  });

  test("nothing listening: connection refused", async () => {
    const srv = await tcpPeer(() => undefined);
    const port = srv.port;
    await srv.close();
    const r = await camctl(port);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /refused/);
    oneSentence(r.stderr);
  });
});

describe("TLS is verified against the JID's domain", () => {
  // A self-signed certificate for good.test only, made here (the sandbox's is CA-signed).
  let certFile: string;
  let key: string;
  let cert: string;
  before(() => {
    const dir = path.join(home, "tls");
    fs.mkdirSync(dir);
    ({ certFile, key, cert } = selfSignedCert(dir, "good.test"));
  });

  /** Direct TLS server on loopback; records the SNI name camctl asked for, then closes. */
  async function directTls(): Promise<{ port: number; names: string[]; close(): Promise<void> }> {
    const names: string[] = [];
    const server = tls.createServer({ key, cert }, (sock) => {
      names.push(String((sock as tls.TLSSocket & { servername?: string }).servername));
      sock.on("error", () => undefined);
      sock.end();
    });
    server.on("tlsClientError", () => undefined);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return { port: (server.address() as net.AddressInfo).port, names, close: () => new Promise<void>((r) => server.close(() => r())) };
  }

  function run(jid: string, port: number, extra: string[]) {
    return runCamctl(["user", "clients", jid, "--jid", jid, "--server", `127.0.0.1:${port}`, "--timeout", "5", ...extra], {
      env: { HOME: home, XDG_STATE_HOME: path.join(home, "state"), CAMCTL_PASSWORD: PASSWORD },
    });
  }

  test("a self-signed certificate: exit 3, the message says it is self-signed and suggests --ca-file", async () => {
    const srv = await directTls();
    try {
      const r = await run("alice@good.test", srv.port, ["--tls", "direct"]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /not trusted: it is self-signed/);
      assert.match(r.stderr, /--ca-file/);
      oneSentence(r.stderr);
    } finally {
      await srv.close();
    }
  });

  test("with --ca-file it is trusted, and SNI names the JID's domain although camctl connected to 127.0.0.1", async () => {
    const srv = await directTls();
    try {
      const r = await run("alice@good.test", srv.port, ["--tls", "direct", "--ca-file", certFile]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /closed the connection/, "past TLS: the fake server just hangs up");
      assert.deepEqual(srv.names, ["good.test"]);
    } finally {
      await srv.close();
    }
  });

  test("a damaged --ca-file is refused with a sentence (2), before anything is contacted", async () => {
    const damaged = path.join(home, "tls", "damaged.pem");
    const lines = cert.trimEnd().split("\n");
    const middle = Math.floor(lines.length / 2);
    lines[middle] = lines[middle]!.replace(/[A-Za-z]/g, (c) => (c === "A" ? "B" : "A")).slice(0, -4) + "!!!!";
    fs.writeFileSync(damaged, lines.join("\n") + "\n");
    const truncated = path.join(home, "tls", "truncated.pem");
    fs.writeFileSync(truncated, cert.slice(0, cert.indexOf("-----END")));
    const srv = await directTls();
    try {
      for (const [file, sentence] of [[damaged, /is damaged: certificate 1 of 1 cannot be read/], [truncated, /is damaged: a certificate has no END line/]] as const) {
        const r = await run("alice@good.test", srv.port, ["--tls", "direct", "--ca-file", file]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, sentence);
        assert.doesNotMatch(r.stderr, /not trusted/, "the server's certificate is not blamed");
        oneSentence(r.stderr);
      }
      assert.deepEqual(srv.names, [], "nothing was contacted");
    } finally {
      await srv.close();
    }
  });

  test("a trusted certificate for another name is refused (3)", async () => {
    const srv = await directTls();
    try {
      const r = await run("alice@other.test", srv.port, ["--tls", "direct", "--ca-file", certFile]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /not valid for other\.test/);
      oneSentence(r.stderr);
    } finally {
      await srv.close();
    }
  });

  test("STARTTLS: the same checks after <proceed/>; no credentials before or after a failed check", async () => {
    const names: string[] = [];
    const srv = await tcpPeer((sock, received) => {
      when(sock, received, /<stream:stream/, () =>
        sock.write(`${HEADER}<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>${AUTH_FEATURES}</stream:features>`),
      );
      when(sock, received, /<starttls/, () => {
        sock.write(`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`, () => {
          const secure = new tls.TLSSocket(sock, { isServer: true, key, cert });
          secure.on("error", () => undefined);
          secure.on("secure", () => {
            names.push(String((secure as tls.TLSSocket & { servername?: string }).servername));
            secure.end();
          });
        });
      });
    });
    try {
      const untrusted = await camctl(srv.port, []);
      assert.equal(untrusted.code, 3, untrusted.stderr);
      assert.match(untrusted.stderr, /self-signed/);
      const wrongName = await camctl(srv.port, ["--ca-file", certFile]); // JID alice@fake.test
      assert.equal(wrongName.code, 3, wrongName.stderr);
      assert.match(wrongName.stderr, /not valid for fake\.test/);
      assert.deepEqual(names, [], "no handshake completed");
      const good = await run("alice@good.test", srv.port, ["--ca-file", certFile]);
      assert.equal(good.code, 3, good.stderr);
      assert.deepEqual(names, ["good.test"], "SNI is the JID's domain after STARTTLS too");
      assertNoCredentials(srv.received);
    } finally {
      await srv.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// A plaintext fake server on loopback (camctl allows --tls none only there) that logs camctl in
// with SASL2 PLAIN and Bind2, so that it can misbehave at every stage of the session.

const NS_SASL2 = "urn:xmpp:sasl:2";
const NS_STREAM_ERRORS = "urn:ietf:params:xml:ns:xmpp-streams";
const SASL2_FEATURES =
  `<stream:features><authentication xmlns='${NS_SASL2}'><mechanism>PLAIN</mechanism>` +
  `<inline><bind xmlns='urn:xmpp:bind:0'/></inline></authentication></stream:features>`;
const SUCCESS = `<success xmlns='${NS_SASL2}'><authorization-identifier>${JID}/fake</authorization-identifier><bound xmlns='urn:xmpp:bind:0'/></success>`;
const ONE_GRANT =
  `<clients xmlns='xmpp:prosody.im/protocol/manage-clients'><client id='grant/g1' type='access' connected='false'>` +
  `<first-seen>2026-01-01T00:00:00Z</first-seen><last-seen>2026-01-01T00:00:00Z</last-seen><auth><bearer-token/></auth>` +
  `<user-agent><software>Bot</software></user-agent></client></clients>`;

/** The id of the last IQ in `text` whose payload matches `payload`. */
function iqId(text: string, payload: RegExp): string {
  const iqs = [...text.matchAll(/<iq\b[^>]*>[\s\S]*?<\/iq>/g)].map((m) => m[0]).filter((iq) => payload.test(iq));
  return /\bid=["']([^"']+)["']/.exec(iqs.at(-1) ?? "")?.[1] ?? "";
}

type Stage = "header" | "authentication" | "after authentication" | "list" | "revoke";

/** Logs camctl in and answers a list with one grant; at `stage` it sends `streamError` instead of going on. */
function sessionServer(stage: Stage, streamError: string): PeerBehaviour {
  return (sock, received) => {
    const end = () => sock.end(`${stage === "header" ? HEADER : ""}${streamError}</stream:stream>`);
    when(sock, received, /<stream:stream/, () => (stage === "header" ? end() : sock.write(HEADER + SASL2_FEATURES)));
    when(sock, received, /<authenticate[\s>]/, () => {
      if (stage === "authentication") end();
      else if (stage === "after authentication") {
        sock.write(`<success xmlns='${NS_SASL2}'><authorization-identifier>${JID}</authorization-identifier></success>`);
        end();
      }
      else sock.write(SUCCESS);
    });
    when(sock, received, /<list /, () => {
      if (stage === "list") end();
      else sock.write(`<iq type='result' id='${iqId(received(), /<list /)}'>${ONE_GRANT}</iq>`);
    });
    when(sock, received, /<revoke /, () => end());
  };
}

const streamErrorElement = (condition: string, body = "", text = "") =>
  `<stream:error><${condition} xmlns='${NS_STREAM_ERRORS}'${body ? `>${body}</${condition}>` : "/>"}` +
  `${text ? `<text xmlns='${NS_STREAM_ERRORS}'>${text}</text>` : ""}</stream:error>`;

// RFC 6120 §4.9.3, all of them.
const STREAM_ERROR_CONDITIONS = [
  "bad-format", "bad-namespace-prefix", "conflict", "connection-timeout", "host-gone", "host-unknown", "improper-addressing",
  "internal-server-error", "invalid-from", "invalid-namespace", "invalid-xml", "not-authorized", "not-well-formed", "policy-violation",
  "remote-connection-failed", "reset", "resource-constraint", "restricted-xml", "see-other-host", "system-shutdown",
  "undefined-condition", "unsupported-encoding", "unsupported-feature", "unsupported-stanza-type", "unsupported-version",
];

function plaintextCamctl(port: number, args: string[] = ["user", "clients", JID]) {
  return runCamctl([...args, "--jid", JID, "--server", `127.0.0.1:${port}`, "--tls", "none", "--timeout", "10"], {
    env: { HOME: home, XDG_STATE_HOME: path.join(home, "state"), CAMCTL_PASSWORD: PASSWORD },
    timeoutMs: 30_000,
  });
}

/**
 * Exit 3 with one sentence matching `sentence`, no crash, no password, and no connection beyond
 * the run's own: one, or for a revoke two (it looks, then opens again to revoke what it showed).
 */
async function assertEndsInOneSentence(stage: Stage, errorXml: string, sentence: RegExp, args?: string[]): Promise<void> {
  const srv = await tcpPeer(sessionServer(stage, errorXml));
  try {
    const r = await plaintextCamctl(srv.port, args);
    const show = `${stage}: exit ${r.code}, stderr ${r.stderr.slice(0, 400)}`;
    assert.equal(r.code, 3, show);
    assert.match(r.stderr, /^camctl: [^\n]+\n$/, show);
    assert.match(r.stderr, sentence, show);
    assert.doesNotMatch(r.stderr + r.stdout, /at .*:\d+:\d+|unhandled|node:internal|bug in camctl/i, show);
    assert.ok(!r.stderr.includes(PASSWORD));
    assert.equal(srv.received.length, stage === "revoke" ? 2 : 1, `${show}: no reconnect, no redirect followed`);
  } finally {
    await srv.close();
  }
}

describe("stream errors end the run in one sentence (exit 3), at every stage, and nothing reconnects", { concurrency: 4 }, () => {
  const redirect = streamErrorElement("see-other-host", "evil.example:5222");
  const followed = /sent camctl to another server, evil\.example:5222 \(see-other-host\); camctl does not follow redirects\. If that server is right, run camctl again with --server evil\.example:5222\./;
  for (const stage of ["header", "authentication", "after authentication", "list"] as const) {
    test(`<see-other-host/> at the ${stage} stage is reported, not followed`, () => assertEndsInOneSentence(stage, redirect, followed));
  }
  test("<see-other-host/> in answer to a revoke is reported as what it is, with the revoke's may-have-happened", () =>
    assertEndsInOneSentence("revoke", redirect, new RegExp(followed.source + / The revoke of grant\/g1 may have happened, entirely or in part; check with `camctl user clients alice@fake\.test`\.\n$/.source), [
      "user", "revoke_client", JID, "grant/g1", "--yes",
    ]),
  );
  for (const condition of STREAM_ERROR_CONDITIONS.filter((c) => c !== "see-other-host")) {
    const sentence = condition === "host-unknown" ? /does not serve fake\.test \(host-unknown\)/ : new RegExp(`\\(${condition}\\)`);
    test(`<${condition}/> in answer to a request`, () => assertEndsInOneSentence("list", streamErrorElement(condition, "", "because"), sentence));
  }
  test("an unknown condition, a redirect naming no host, and a stream error with no condition at all", async () => {
    await assertEndsInOneSentence("list", streamErrorElement("x-made-up"), /ended the stream with an error \(x-made-up\)\./);
    await assertEndsInOneSentence("list", streamErrorElement("see-other-host"), /sent camctl to another server without naming it \(see-other-host\)/);
    await assertEndsInOneSentence("list", "<stream:error/>", /ended the stream with an error \(undefined-condition\)\./);
  });
  test("the server's text and redirect target are shown escaped", () =>
    assertEndsInOneSentence("after authentication", streamErrorElement("see-other-host", "evil&#x202e;&#x9b;31m.example"), /evil\\u202e\\x9b31m\.example \(see-other-host\)/),
  );
});

describe("hostile servers cannot make camctl outlast --timeout, or hide why it stopped", () => {
  test("a server that sends more than 64 MiB: camctl says so, not that the server closed the connection", async () => {
    const srv = await tcpPeer((sock, received) => {
      when(sock, received, /<stream:stream/, () => {
        sock.write(HEADER);
        // Short XML comments: what xmpp.js's parser gets through fastest (it is quadratic on a long text or attribute).
        const chunk = `<!--${"x".repeat(1017)}-->`.repeat(1024);
        let sent = 0;
        const more = () => {
          while (sent < 65 && !sock.destroyed) {
            sent++;
            if (!sock.write(chunk)) return void sock.once("drain", more);
          }
        };
        more();
      });
    });
    try {
      const r = await plaintextCamctl(srv.port);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /^camctl: The server at 127\.0\.0\.1:\d+ sent more than 64 MiB in one session, which is more than camctl reads; it stopped there\./);
      oneSentence(r.stderr);
    } finally {
      await srv.close();
    }
  });

  test("SCRAM with 10,000,000 iterations is refused at once (4), within a 1 s --timeout", async () => {
    const srv = await tcpPeer((sock, received) => {
      when(sock, received, /<stream:stream/, () =>
        sock.write(HEADER + `<stream:features><authentication xmlns='${NS_SASL2}'><mechanism>SCRAM-SHA-1</mechanism></authentication></stream:features>`),
      );
      when(sock, received, /<\/authenticate>/, () => {
        const initial = /<initial-response>([^<]*)</.exec(received())?.[1] ?? "";
        const nonce = /r=([^,]*)/.exec(Buffer.from(initial, "base64").toString("utf8"))?.[1] ?? "";
        const challenge = Buffer.from(`r=${nonce}server,s=${Buffer.from("salt").toString("base64")},i=10000000`).toString("base64");
        sock.write(`<challenge xmlns='${NS_SASL2}'>${challenge}</challenge>`);
      });
    });
    try {
      const r = await runCamctl(["user", "clients", JID, "--jid", JID, "--server", `127.0.0.1:${srv.port}`, "--tls", "none", "--timeout", "1"], {
        env: { HOME: home, XDG_STATE_HOME: path.join(home, "state"), CAMCTL_PASSWORD: PASSWORD },
        timeoutMs: 30_000,
      });
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /the server asked for 10000000 hash iterations, more than the 1000000 camctl allows/);
      assert.match(r.stderr, /This may not be the real server/);
      oneSentence(r.stderr);
      const late = await lateAllowanceMs(1500);
      assert.ok(r.ms < 1000 + late, `took ${r.ms} ms with --timeout 1 (allowed ${late} ms more on this machine now)`);
    } finally {
      await srv.close();
    }
  });
});
