// The admin-stream client against a scripted unix-socket peer that replays what Prosody sends.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { AdminStream, escapeXmlText } from "../../src/transports/socket/adminstream.js";
import { CamError } from "../../src/core/errors.js";
import { ADMIN_HEADER } from "../helpers/fault-peers.js";

const dir = mkdtempSync(join(tmpdir(), "camctl-adminstream-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;


/** A peer that waits for one repl-input and then runs `onRequest`. Records what it received. */
async function peer(onRequest: (sock: Socket, received: string) => void): Promise<{ path: string; server: Server; received: () => string }> {
  const path = join(dir, `s${n++}.sock`);
  let received = "";
  const server = createServer((sock) => {
    let answered = false;
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      received += d;
      if (received.includes("<stream:stream") && !received.includes("ADMIN_HEADER-SENT")) {
        received += "ADMIN_HEADER-SENT";
        sock.write(ADMIN_HEADER);
      }
      if (!answered && received.includes("</repl-input>")) {
        answered = true;
        onRequest(sock, received);
      }
    });
    sock.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(path, r));
  return { path, server, received: () => received };
}

test("collects repl-output lines and the result, even split across chunks", async () => {
  const p = await peer((sock) => {
    const reply = "<repl-output>line &amp; one</repl-output><repl-output eol='0'>two</repl-output><repl-result>Result: {\"a\":1}</repl-result>";
    for (let i = 0; i < reply.length; i += 7) sock.write(reply.slice(i, i + 7));
  });
  const s = new AdminStream(p.path);
  const r = await s.request(">return 1 < 2 and 'x' & 'y'");
  assert.deepEqual(r, { output: ["line & one", "two"], result: 'Result: {"a":1}', isError: false });
  // The request text was XML-escaped: nothing the input holds can open or close an element.
  assert.match(p.received(), /<repl-input width='132' repl='0'>&gt;return 1 &lt; 2 and 'x' &amp; 'y'<\/repl-input>/);
  s.close();
  p.server.close();
});

test("an error result is reported as such", async () => {
  const p = await peer((sock) => sock.write("<repl-result type='error'>Error: nope</repl-result>"));
  const s = new AdminStream(p.path);
  const r = await s.request("x");
  assert.equal(r.isError, true);
  assert.equal(r.result, "Error: nope");
  s.close();
  p.server.close();
});

test("a password request is declined, never answered with data", async () => {
  let sawCancel = false;
  const p = await peer((sock) => {
    sock.write("<repl-request-input type='password' id='abc'/>");
    sock.on("data", (d: string) => {
      if (d.includes("repl-requested-input") && d.includes("status='cancel'") && d.includes("id='abc'")) {
        sawCancel = true;
        sock.write("<repl-result type='error'>Error: cancelled</repl-result>");
      }
    });
  });
  const s = new AdminStream(p.path);
  const r = await s.request("user:password('a@b')");
  assert.equal(sawCancel, true);
  assert.equal(r.isError, true);
  s.close();
  p.server.close();
});

async function expectUnreachable(promise: Promise<unknown>, pattern: RegExp) {
  await assert.rejects(promise, (e: unknown) => e instanceof CamError && e.kind === "unreachable" && pattern.test(e.message));
}

test("malformed XML ends the request with a clear error", async () => {
  const p = await peer((sock) => sock.write("<repl-output>ok</repl-output><<<>"));
  const s = new AdminStream(p.path);
  await expectUnreachable(s.request("x"), /not well-formed XML/);
  s.close();
  p.server.close();
});

test("a peer that closes early ends the request with a clear error", async () => {
  const p = await peer((sock) => sock.end("<repl-output>partial</repl-output>"));
  const s = new AdminStream(p.path);
  await expectUnreachable(s.request("x"), /closed/);
  s.close();
  p.server.close();
});

test("a peer that ends the stream before answering", async () => {
  const p = await peer((sock) => sock.write("</stream:stream>"));
  const s = new AdminStream(p.path);
  await expectUnreachable(s.request("x"), /closed/);
  s.close();
  p.server.close();
});

test("connect errors say what to check", async () => {
  await expectUnreachable(new AdminStream(join(dir, "missing.sock")).request("x"), /no admin socket .*missing\.sock.*running/i);
});

test("with onOutput, each repl-output goes to it as it arrives; a throw fails the request and closes", async () => {
  const p = await peer((sock) => sock.write("<repl-output>one</repl-output><repl-output>two</repl-output><repl-result>Result: x</repl-result>"));
  const s = new AdminStream(p.path);
  const seen: string[] = [];
  const r = await s.request("x", (text) => seen.push(text));
  assert.deepEqual(seen, ["one", "two"]);
  assert.deepEqual(r.output, [], "handed over, not kept");
  s.close();
  p.server.close();

  const q = await peer((sock) => sock.write("<repl-output>bad</repl-output><repl-result>Result: x</repl-result>"));
  const t = new AdminStream(q.path);
  await assert.rejects(t.request("x", () => {
    throw new CamError("internal", "not what camctl asked for");
  }), /not what camctl asked for/);
  await assert.rejects(t.request("y"), CamError, "the connection is gone after that");
  q.server.close();
});

test("a single element larger than camctl accepts is refused before it fills memory", async () => {
  const p = await peer((sock) => {
    sock.write("<repl-output>");
    const chunk = "x".repeat(1024 * 1024);
    let sent = 0;
    const more = () => {
      while (sent < 6 && !sock.destroyed) {
        sent++;
        if (!sock.write(chunk)) return void sock.once("drain", more);
      }
    };
    more();
  });
  const s = new AdminStream(p.path);
  await expectUnreachable(s.request("x", () => undefined), /single element larger than 4 MiB/);
  s.close();
  p.server.close();
});

test("a request's text is escaped as XML character data: &, < and > and nothing else", () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom("&", "<", ">", "a", "\n", "'", '"', ";", "é", "\u2026") }), (text) => {
      const escaped = escapeXmlText(text);
      assert.equal(escaped.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&"), text);
      assert.doesNotMatch(escaped, /[<>]|&(?!amp;|lt;|gt;)/);
    }),
    { numRuns: 2000 },
  );
});
