// record_stream.lua, the server side of camctl's record streams over the admin socket, run in a
// real Lua 5.4 interpreter with a recording print and small sizes: what it cuts into pieces and
// what its trailers count.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LUA_SOURCES } from "../../src/transports/socket/lua-sources.js";
import { SaxesParser } from "saxes";
import { NO_LUA, luaBytes, luaFiles, runLua } from "../helpers/lua-interpreter.js";

interface Reply {
  pieces: string[];
  trailer: Record<string, unknown>;
}

/**
 * Streams `lines` with the given piece size and budget, following continuations with
 * stream_continue.lua exactly as camctl does, and returns each reply. Base64 is left out (the
 * identity) so the pieces can be read here; hex keeps the output one line per piece.
 */
function stream(lines: string[], pieceBytes: number, budgetBytes: number, meta = "{}"): Reply[] {
  const script = `package.preload["prosody.util.encodings"] = function() return { base64 = { encode = function(s) return s end } } end
local printed = {}
print = function(s) printed[#printed + 1] = s end
local hex = function(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
${luaFiles("record_stream")}
record_stream.PIECE_BYTES, record_stream.BUDGET_BYTES = ${pieceBytes}, ${budgetBytes}
local lines, i = { ${lines.map((l) => JSON.stringify(l)).join(", ")} }, 0
local function report(trailer)
  for _, p in ipairs(printed) do io.write("piece ", hex(p), "\\n") end
  printed = {}
  io.write("trailer ", hex(trailer), "\\n")
end
local continue = load(${JSON.stringify(LUA_SOURCES.stream_continue)})
report(record_stream.start({ print = print, base64 = function(s) return s end }, function() i = i + 1 return lines[i] end, ${meta}))
for _ = 1, 1000 do
  if not camctl_record_stream then break end
  report(continue())
end`;
  const replies: Reply[] = [];
  let pieces: string[] = [];
  for (const line of runLua(script).trim().split("\n")) {
    const [kind, hex] = line.split(" ");
    const text = Buffer.from(hex ?? "", "hex").toString("utf8");
    if (kind === "piece") pieces.push(text);
    else {
      assert.ok(text.startsWith("base64:"), text);
      replies.push({ pieces, trailer: JSON.parse(text.slice("base64:".length)) as Record<string, unknown> });
      pieces = [];
    }
  }
  return replies;
}

const PIECE_PREFIX = "base64:";

test("records go out as NDJSON in pieces of at most the piece size; the trailer counts them", { skip: NO_LUA }, () => {
  const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify(["client/" + i, "x".repeat(i)]));
  const replies = stream(lines, 100, 1_000_000, `{ jid = "a@b" }`);
  assert.equal(replies.length, 1);
  const [{ pieces, trailer }] = replies as [Reply];
  for (const p of pieces) {
    assert.ok(p.startsWith(PIECE_PREFIX));
    assert.ok(p.length - PIECE_PREFIX.length <= 100, `piece of ${p.length}`);
  }
  const text = pieces.map((p) => p.slice(PIECE_PREFIX.length)).join("");
  assert.equal(text, lines.map((l) => l + "\n").join(""));
  assert.deepEqual(trailer, { more: false, pieces: pieces.length, bytes: Buffer.byteLength(text), records: 50, jid: "a@b" });
});

test("a record longer than many pieces is cut across them and arrives whole", { skip: NO_LUA }, () => {
  const long = JSON.stringify(["client/long", "é".repeat(1000)]);
  const replies = stream(["[1]", long, "[2]"], 64, 1_000_000);
  const text = replies.flatMap((r) => r.pieces).map((p) => p.slice(PIECE_PREFIX.length)).join("");
  assert.equal(text, `[1]\n${long}\n[2]\n`);
  assert.ok(replies[0]!.pieces.length > 30);
});

test("one reply carries about the budget; the rest follows on request, counted per reply", { skip: NO_LUA }, () => {
  const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify([i, "y".repeat(40)]));
  const replies = stream(lines, 128, 1024);
  assert.ok(replies.length > 5, `${replies.length} replies`);
  let all = "";
  replies.forEach((r, i) => {
    const bytes = r.pieces.reduce((n, p) => n + p.length - PIECE_PREFIX.length, 0);
    assert.ok(bytes <= 1024 + 128, `reply ${i} carried ${bytes} bytes`);
    assert.equal(r.trailer.pieces, r.pieces.length);
    assert.equal(r.trailer.bytes, bytes);
    assert.equal(r.trailer.more, i < replies.length - 1);
    all += r.pieces.map((p) => p.slice(PIECE_PREFIX.length)).join("");
  });
  assert.equal(replies.at(-1)!.trailer.records, 200);
  assert.equal(all, lines.map((l) => l + "\n").join(""));
});

test("an empty stream is one trailer with nothing in it", { skip: NO_LUA }, () => {
  assert.deepEqual(stream([], 100, 1000), [{ pieces: [], trailer: { more: false, pieces: 0, bytes: 0, records: 0 } }]);
});

test("fail answers with the error in the trailer; a continuation with nothing waiting says so", { skip: NO_LUA }, () => {
  const out = runLua(`package.preload["prosody.util.encodings"] = function() return { base64 = { encode = function(s) return s end } } end
${luaFiles("record_stream")}
camctl_record_stream = { stale = true }
io.write(record_stream.fail({ base64 = function(s) return s end }, { err = "user-not-found", jid = "a@b" }), "\\n")
io.write(tostring(camctl_record_stream), "\\n")
io.write(load(${JSON.stringify(LUA_SOURCES.stream_continue)})(), "\\n")`).trim().split("\n");
  assert.deepEqual(JSON.parse(out[0]!.slice(PIECE_PREFIX.length)), { more: false, pieces: 0, bytes: 0, records: 0, err: "user-not-found", jid: "a@b" });
  assert.equal(out[1], "nil", "a failure drops whatever was waiting");
  assert.deepEqual(JSON.parse(out[2]!.slice(PIECE_PREFIX.length)), { more: false, pieces: 0, bytes: 0, records: 0, err: "no-stream" });
});

/**
 * A host scan's stream (record_stream.open) with the admin session's own sender (io.raw), as
 * camctl's XML parser reads it: every <repl-output> it sent, inside one root element. "base64" is
 * hex here, so both kinds of piece can be read back.
 */
function rawStream(body: string, pieceBytes: number): { pieces: { kind: string; bytes: Buffer }[]; trailer: Record<string, unknown> } {
  const script = `local sent = {}
local hex = function(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
${luaFiles("record_stream", "json_lines")}
local out = record_stream.open({ raw = function(s) sent[#sent + 1] = s end, base64 = hex }, ${pieceBytes})
${body}
local trailer = out.finish({ host = "example.com" })
io.write(trailer, "\\n<r>", table.concat(sent), "</r>")`;
  const out = runLua(script);
  const trailer = out.slice(0, out.indexOf("\n"));
  const xml = out.slice(trailer.length + 1);
  const pieces: { kind: string; bytes: Buffer }[] = [];
  const parser = new SaxesParser();
  let text: string | undefined;
  parser.on("error", (e) => assert.fail(`not well-formed XML: ${e.message}`));
  parser.on("opentag", (t) => { if (t.name === "repl-output") text = ""; });
  parser.on("text", (t) => { if (text !== undefined) text += t; });
  parser.on("closetag", (t) => {
    if (t.name !== "repl-output") return;
    const [, kind, payload] = /^(text|base64):(.*)$/s.exec(text!)!;
    pieces.push({ kind: kind!, bytes: kind === "text" ? Buffer.from(payload!, "utf8") : Buffer.from(payload!, "hex") });
    text = undefined;
  });
  parser.write(xml).close();
  return { pieces, trailer: JSON.parse(Buffer.from(trailer.slice(PIECE_PREFIX.length), "hex").toString("utf8")) as Record<string, unknown> };
}

test("a host scan's pieces travel as text where XML carries them unchanged, else as base64; every record arrives whole", { skip: NO_LUA }, () => {
  const plain = Array.from({ length: 40 }, (_, i) => JSON.stringify(["a@example.com", ["client/" + i, "Gajim"]]));
  // What json_lines never writes, from another producer: markup, a carriage return, U+FFFE, and a
  // long line of two-byte characters that the piece size cuts inside a character.
  const odd = ['["<b>&amp;"]', '["cr\rhere"]', '["\ufffe"]', JSON.stringify(["é".repeat(300)])];
  const lines = [...plain.slice(0, 20), ...odd, ...plain.slice(20)];
  const { pieces, trailer } = rawStream(lines.map((l) => `out.line(${luaBytes(l)})`).join("\n"), 101);
  assert.equal(Buffer.concat(pieces.map((p) => p.bytes)).toString("utf8"), lines.map((l) => l + "\n").join(""));
  assert.deepEqual(trailer, { more: false, pieces: pieces.length, bytes: Buffer.byteLength(lines.map((l) => l + "\n").join("")), records: lines.length, host: "example.com" });
  const kinds = new Set(pieces.map((p) => p.kind));
  assert.ok(kinds.has("text") && kinds.has("base64"), [...kinds].join());
  for (const p of pieces.filter((p) => p.kind === "text")) {
    assert.doesNotMatch(p.bytes.toString("utf8"), /[<>&\r\ufffe\ufffd]/);
    assert.ok(p.bytes.length <= 2 * 101, `a text piece of ${p.bytes.length} bytes`);
  }
});

test("a host-scan row written into the pending piece (record with json_lines.client_into) is json_lines.client's line", { skip: NO_LUA }, () => {
  const describe = `client_access.describe({ id = "client/x<1>"; type = "access"; expires = 1700000000; active = { grant = 1, fast = 2 };
    user_agent = { software = "Dino \\"nightly\\" & co"; device = "\\239\\191\\190 pc" } })`;
  const { pieces, trailer } = rawStream(`local d = ${describe}
out.record(json_lines.client_into, d, '["a@example.com",', ',{"status":"enabled"}]')
out.line(json_lines.client(d, '["a@example.com",', ',{"status":"enabled"}]'))
out.record(json_lines.client_into, d)`, 4096);
  const [viaRecord, viaLine, bare] = Buffer.concat(pieces.map((p) => p.bytes)).toString("utf8").replace(/\n$/, "").split("\n");
  assert.equal(viaRecord, viaLine);
  assert.deepEqual(JSON.parse(viaRecord!), ["a@example.com", JSON.parse(bare!), { status: "enabled" }]);
  assert.deepEqual(pieces.map((p) => p.kind), ["text"], "json_lines' text is carried as it is");
  assert.equal(JSON.parse(bare!)[0], "client/x<1>");
  assert.equal(JSON.parse(bare!)[7], 'Dino "nightly" & co');
  assert.equal(trailer.records, 3);
});
