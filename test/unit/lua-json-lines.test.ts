// json_lines.lua, the hand-written JSON of what camctl reads from the admin socket, run in a real
// Lua 5.4 interpreter and read back with JSON.parse.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { clientFromSocket } from "../../src/transports/socket/socket-source.js";
import { NO_LUA, luaBytes, luaFiles, runLua } from "../helpers/lua-interpreter.js";
import { emptyNetwork } from "../../src/core/network.js";

const lines = (script: string) => runLua(`${luaFiles("json_lines")}\n${script}`).replace(/\n$/, "").split("\n");

test("str round-trips every string through JSON.parse", { skip: NO_LUA }, () => {
  const inputs = fc.sample(fc.string({ unit: "binary", maxLength: 48 }), 300).map((s) => s.toWellFormed());
  inputs.push('quote " backslash \\ slash /', "\u0000\u001f\u007f\u0080\u009b\u202e\u2028", "tab\tnl\ncr\r", "", "plain ASCII");
  const out = lines(inputs.map((s) => `io.write(json_lines.str(${luaBytes(s)}), "\\n")`).join("\n"));
  assert.equal(out.length, inputs.length);
  inputs.forEach((s, i) => assert.equal(JSON.parse(out[i]!), s));
});

test("str's text can travel inside XML as it is: no markup, controls, U+FFFE or U+FFFF, even from hostile strings", { skip: NO_LUA }, () => {
  const inputs = fc.sample(fc.string({ unit: fc.constantFrom("<", ">", "&", "\r", "\t", "\u0000", "\ufffe", "\uffff", "a", "é", "]]>", "\"", "\\"), maxLength: 24 }), 200);
  inputs.push("<script>&amp;</script>", "]]>", "\ufffe\uffff", "plain ASCII: !#$%'()*+,-./09:;=?@AZ[]^_`az{|}~");
  const out = lines(inputs.map((s) => `io.write(json_lines.str(${luaBytes(s)}), "\\n")`).join("\n"));
  inputs.forEach((s, i) => {
    assert.doesNotMatch(out[i]!, /[<>&\u0000-\u001f\ufffe\uffff]/, JSON.stringify(s));
    assert.equal(JSON.parse(out[i]!), s);
  });
});

test("bytes that are not UTF-8 become U+FFFD instead of breaking the reply", { skip: NO_LUA }, () => {
  const [out] = lines(`io.write(json_lines.str(${luaBytes(Buffer.from([0x6f, 0x6b, 0xff, 0xfe, 0x78, 0xc0]))}), "\\n")`);
  assert.equal(JSON.parse(out!), "ok\ufffd\ufffdx\ufffd");
});

test("non-strings are null; only integers are numbers", { skip: NO_LUA }, () => {
  const out = lines(`for _, v in ipairs({ json_lines.str(nil), json_lines.str(12), json_lines.str({}), json_lines.int(1.5), json_lines.int(nil), json_lines.int(-3) }) do io.write(v, "\\n") end`);
  assert.deepEqual(out, ["null", "null", "null", "null", "null", "-3"]);
});

test("a client is the positional array clientFromSocket reads; unshowable times are null", { skip: NO_LUA }, () => {
  const [line] = lines(`io.write(json_lines.client(client_access.describe({
    id = "client/x"; type = "session"; first_seen = 1e300; last_seen = 1700000000.7; expires = 253402300800;
    active = { password = 1; fast = 2; connected = true; grant = { id = "g", secret = "s3cr3t" } };
    user_agent = { software = "Gajim"; software_version = "1.9"; software_id = "gajim-id"; uri = "https://gajim.org/"; device = "laptop" };
    full_jid = "a@b/c"; mechanisms = { PLAIN = 1 };
  })), "\\n")`);
  assert.doesNotMatch(line!, /s3cr3t|a@b\/c|PLAIN/, "nothing secret or internal");
  assert.deepEqual(clientFromSocket(JSON.parse(line!) as unknown[]), {
    id: "client/x",
    type: "session",
    connected: true,
    firstSeen: null,
    lastSeen: "2023-11-14T22:13:20Z",
    expires: null,
    auth: ["fast", "grant", "password"],
    userAgent: { software: "Gajim", version: "1.9", softwareId: "gajim-id", uri: "https://gajim.org/", device: "laptop" },
    permission: null,
    ...emptyNetwork(),
  });
});

test("the network fields travel only when one is known: 12 positions without, 20 with", { skip: NO_LUA }, () => {
  const [plain, annotated] = lines(`local d = client_access.describe({ id = "client/x"; type = "session"; active = { password = 1 } })
io.write(json_lines.client(d), "\\n")
d.last_ip = "192.0.2.7"; d.login_count = 3
io.write(json_lines.client(d), "\\n")`).map((l) => JSON.parse(l) as unknown[]);
  assert.equal(plain!.length, 12);
  assert.deepEqual(clientFromSocket(plain!), { ...clientFromSocket(annotated!), lastIp: null, loginCount: null });
  assert.equal(annotated!.length, 20);
  assert.equal(clientFromSocket(annotated!).lastIp, "192.0.2.7");
  assert.equal(clientFromSocket(annotated!).loginCount, 3);
});

test("a host-scan row frames the client in the same string: before .. client .. after, with and without network fields", { skip: NO_LUA }, () => {
  const out = lines(`local d = client_access.describe({ id = "client/x"; type = "session"; active = { password = 1 } })
io.write(json_lines.client(d), "\\n")
io.write(json_lines.client(d, '["a@example.com",', ',{"status":"enabled"}]'), "\\n")
d.last_ip = "192.0.2.7"
io.write(json_lines.client(d), "\\n")
io.write(json_lines.client(d, '["a@example.com",', ',{"status":"enabled"}]'), "\\n")`);
  const [plain, framedPlain, annotated, framedAnnotated] = out;
  assert.equal(framedPlain, `["a@example.com",${plain},{"status":"enabled"}]`);
  assert.equal(framedAnnotated, `["a@example.com",${annotated},{"status":"enabled"}]`);
  assert.deepEqual(JSON.parse(framedAnnotated!), ["a@example.com", JSON.parse(annotated!), { status: "enabled" }]);
});

test("a revocation report carries the flags and the client as listed afterwards", { skip: NO_LUA }, () => {
  const out = lines(`io.write(json_lines.revoke_report({ id = "client/x", session_closed = true, fast_tokens_revoked = false, grant_revoked = true,
    after = { id = "client/x", type = "session", active = { password = 5 } } }), "\\n")
io.write(json_lines.revoke_report({ id = "grant/y", session_closed = false, fast_tokens_revoked = false, grant_revoked = true }), "\\n")`);
  const [withAfter, gone] = out.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual({ ...withAfter, after: undefined }, { id: "client/x", session_closed: true, fast_tokens_revoked: false, grant_revoked: true, after: undefined });
  assert.deepEqual(clientFromSocket(withAfter!.after as unknown[]).auth, ["password"]);
  assert.equal(gone!.after, null);
});

test("object writes a flat object with sorted keys", { skip: NO_LUA }, () => {
  const [out] = lines(`io.write(json_lines.object({ more = false, pieces = 2, jid = "a@b", err = "x\\0y" }), "\\n")`);
  assert.equal(out, '{"err":"x\\u0000y","jid":"a@b","more":false,"pieces":2}');
});
