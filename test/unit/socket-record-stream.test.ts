// readRecordStream against a scripted admin-socket peer: what camctl accepts as a complete answer
// and what it refuses (see src/transports/socket/lua/record_stream.lua for the server side).
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AdminStream } from "../../src/transports/socket/adminstream.js";
import { readRecordStream } from "../../src/transports/socket/record-stream.js";
import { CamError, ServerFault } from "../../src/core/errors.js";
import { ADMIN_HEADER } from "../helpers/fault-peers.js";

const dir = mkdtempSync(join(tmpdir(), "camctl-recordstream-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");
const piece = (s: string | Buffer) => `<repl-output>base64:${b64(s)}</repl-output>`;
const trailer = (t: object) => `<repl-result>Result: base64:${b64(JSON.stringify(t))}</repl-result>`;

/** A peer that answers the i-th request with replies[i]; records the requests. */
async function peer(replies: string[]): Promise<{ stream: AdminStream; requests: string[]; close(): void }> {
  const path = join(dir, `r${n++}.sock`);
  const requests: string[] = [];
  const server = createServer((sock: Socket) => {
    let buffer = "";
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      buffer += d;
      if (buffer.includes("<stream:stream") && !buffer.includes("\u0000")) {
        buffer += "\u0000";
        sock.write(ADMIN_HEADER);
      }
      for (let end = buffer.indexOf("</repl-input>"); end !== -1; end = buffer.indexOf("</repl-input>")) {
        requests.push(buffer.slice(buffer.indexOf("<repl-input"), end));
        buffer = buffer.slice(end + "</repl-input>".length);
        sock.write(replies[requests.length - 1] ?? "");
      }
    });
    sock.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(path, r));
  const stream = new AdminStream(path);
  return { stream, requests, close: () => (stream.close(), server.close()) };
}

const read = (stream: AdminStream, maxBytes?: number) => readRecordStream(stream, ">first", { what: "the clients of a@b", maxBytes });

async function refused(p: Promise<unknown>, kind: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof CamError && e.kind === kind && pattern.test(e.message) ? true : assert.fail(String(e)));
}

test("records cut anywhere across pieces and replies are put back together, in order", async () => {
  const text = Buffer.from('["a","é"]\n[1,2]\n{"x":"yz"}\n');
  const cut = [3, 7, 8, 20]; // through the two-byte é, through a line end
  const parts = [text.subarray(0, cut[0]), text.subarray(cut[0], cut[1]), text.subarray(cut[1], cut[2]), text.subarray(cut[2], cut[3]), text.subarray(cut[3])];
  const p = await peer([
    piece(parts[0]!) + piece(parts[1]!) + trailer({ more: true, pieces: 2, bytes: 7, records: 0 }),
    piece(parts[2]!) + piece(parts[3]!) + piece(parts[4]!) + trailer({ more: false, pieces: 3, bytes: text.length - 7, records: 3, jid: "a@b" }),
  ]);
  const r = await read(p.stream);
  assert.deepEqual(r, { records: [["a", "é"], [1, 2], { x: "yz" }], meta: { jid: "a@b" } });
  assert.equal(p.requests.length, 2);
  assert.match(p.requests[1]!, /camctl_record_stream/, "the second request asks for the rest");
  p.close();
});

test("an error trailer comes back as meta, with no records", async () => {
  const p = await peer([trailer({ more: false, pieces: 0, bytes: 0, records: 0, err: "user-not-found", jid: "a@b" })]);
  assert.deepEqual(await read(p.stream), { records: [], meta: { err: "user-not-found", jid: "a@b" } });
  p.close();
});

for (const [name, reply, pattern] of [
  ["a lost piece", piece("[1]\n") + trailer({ more: false, pieces: 2, bytes: 8, records: 2 }), /arrived incomplete \(2 pieces of 8 bytes were sent, 1 of 4 arrived\)/],
  ["a lost record", piece("[1]\n") + trailer({ more: false, pieces: 1, bytes: 4, records: 2 }), /arrived incomplete \(2 records were sent, 1 arrived\)/],
  ["a record cut off at the end", piece("[1]\n[2") + trailer({ more: false, pieces: 1, bytes: 6, records: 2 }), /the last record is cut off/],
] as const) {
  test(`${name}: refused as incomplete (unreachable, 3), nothing returned`, async () => {
    const p = await peer([reply]);
    await refused(read(p.stream), "unreachable", pattern);
    p.close();
  });
}

for (const [name, reply, pattern] of [
  ["a piece that is not base64", "<repl-output>base64:@@@@</repl-output>" + trailer({ more: false, pieces: 1, bytes: 0, records: 0 }), /piece 1 is not base64/],
  ["output that is not a piece", "<repl-output>hello</repl-output>" + trailer({ more: false, pieces: 1, bytes: 0, records: 0 }), /piece 1 is not base64/],
  ["a record that is not JSON", piece("[1\n") + trailer({ more: false, pieces: 1, bytes: 3, records: 1 }), /record 1 is not JSON/],
  ["a trailer without counts", `<repl-result>Result: base64:${b64('{"more":false}')}</repl-result>`, /no count of pieces/],
] as const) {
  test(`${name}: refused as unreadable (unreachable, 3: not what Prosody sends)`, async () => {
    const p = await peer([reply]);
    await refused(read(p.stream), "unreachable", pattern);
    p.close();
  });
}

test("no shell on the socket: unsupported (8), says what to load", async () => {
  const p = await peer(["<repl-result type='error'>No module handled this query. Is mod_admin_shell enabled?</repl-result>"]);
  await refused(read(p.stream), "unsupported", /Add "admin_shell" to modules_enabled/);
  p.close();
});

test("an error result (the request raised in the server): a server fault (3, the item fails, not a camctl bug), one sentence with Prosody's text", async () => {
  const raised = "<repl-result type='error'>Error: stdin:1: attempt to index a nil value\nstack traceback: ...</repl-result>";
  const p = await peer([raised, raised]);
  await assert.rejects(read(p.stream), ServerFault);
  await refused(read(p.stream), "unreachable", /^Prosody failed while running camctl's request for the clients of a@b: Error: stdin:1: attempt to index a nil value\. Prosody's log may say more\.$/);
  p.close();
});

test("more than maxBytes: refused with the cap in the sentence, and camctl stops reading", async () => {
  const p = await peer([piece("[1]\n".repeat(100)) + piece("[2]\n".repeat(100)) + trailer({ more: false, pieces: 2, bytes: 800, records: 200 })]);
  await refused(read(p.stream, 500), "unreachable", /larger than 0 MiB, more than camctl accepts; camctl stopped reading/);
  await assert.rejects(p.stream.request("x"), CamError, "the connection was closed");
  p.close();
});

test("onRecord takes each record as it is complete, before the reply ends; the counts are still checked", async () => {
  const p = await peer([piece("[1]\n[2]\n") + trailer({ more: true, pieces: 1, bytes: 8, records: 2 }), piece("[3]\n") + trailer({ more: false, pieces: 1, bytes: 4, records: 4 })]);
  const seen: unknown[] = [];
  await refused(readRecordStream(p.stream, ">first", { what: "x", onRecord: (r) => seen.push(r) }), "unreachable", /4 records were sent, 3 arrived/);
  assert.deepEqual(seen, [[1], [2], [3]]);
  p.close();
});
