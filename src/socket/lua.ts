// Lua sent to the admin socket's global environment (lines starting with ">").
// Values from the command line travel hex-encoded: the literal can only hold [0-9a-f],
// so no input, whatever characters it has, can close the string and become code.

export function luaHexString(value: string): string {
  return `"${Buffer.from(value, "utf8").toString("hex")}"`;
}

// Decodes the hex literals, resolves the host and module, and answers with one JSON object.
// `err` codes: invalid-jid, host-not-found, module-not-loaded, user-not-found, plus the module's own.
const PRELUDE = [
  `local function unhex(h) return (h:gsub("%x%x", function(c) return string.char(tonumber(c, 16)) end)) end`,
  `local json, base64 = require "prosody.util.json", require "prosody.util.encodings".base64`,
  // Replies travel base64-encoded: plain ASCII costs nothing to escape as XML text, whereas the
  // quotes of a large JSON text slow both ends down several-fold.
  `local function send(s) return "base64:" .. base64.encode(s) end`,
  `local function reply(t) return send(json.encode(t)) end`,
  `local user, host = require "prosody.util.jid".prepped_split(unhex(JID))`,
  `if not user or not host then return reply({ err = "invalid-jid" }) end`,
  `local h = prosody.hosts[host]`,
  `if not h then return reply({ err = "host-not-found", host = host }) end`,
  `local cm = h.modules and h.modules.client_management`,
  `if not cm or type(cm.get_active_clients) ~= "function" then return reply({ err = "module-not-loaded", host = host }) end`,
  `if not require "prosody.core.usermanager".user_exists(user, host) then return reply({ err = "user-not-found", jid = user.."@"..host }) end`,
].join(" ");

// Only what the JSON contract shows leaves the server: `active.grant` (token secrets)
// and internal fields (full_jid, mechanisms) are never copied. The list is written as JSON by
// hand: util.json's generic encoder is several times slower for a thousand records.
const LIST_BODY = [
  String.raw`local ok, clients, why = pcall(cm.get_active_clients, user)`,
  String.raw`if not ok then return reply({ err = "internal-server-error", text = tostring(clients) }) end`,
  // The module answers nil, error when it cannot read its store: that is not an empty list.
  String.raw`if type(clients) ~= "table" then why = why ~= nil and tostring(why) or nil return reply({ err = "internal-server-error", text = why ~= "internal-server-error" and why or nil }) end`,
  String.raw`local function ts(v) v = tonumber(v) if v and v == v and v ~= math.huge and v ~= -math.huge then return string.format("%d", math.floor(v)) end return "null" end`,
  String.raw`local esc = { ['"'] = '\\"', ['\\'] = '\\\\' }`,
  String.raw`for i = 0, 31 do esc[string.char(i)] = string.format("\\u%04x", i) end`,
  // Invalid UTF-8 would make Prosody reject the whole reply: replace each bad byte with U+FFFD.
  String.raw`local function str(v) if type(v) ~= "string" then return "null" end`,
  // Most values are plain printable ASCII: nothing to check or escape.
  String.raw` if not v:find('[^ !#-%[%]-~]') then return '"' .. v .. '"' end`,
  String.raw` local ok, bad = utf8.len(v) while not ok do v = v:sub(1, bad - 1) .. "\239\191\189" .. v:sub(bad + 1) ok, bad = utf8.len(v) end`,
  String.raw` return '"' .. v:gsub('[\0-\31"\\]', esc) .. '"' end`,
  String.raw`local out = {}`,
  String.raw`for _, c in ipairs(clients) do`,
  String.raw` local ua, active, auth = c.user_agent or {}, c.active or {}, {}`,
  String.raw` for k in pairs(active) do if k ~= "connected" then auth[#auth + 1] = str(tostring(k)) end end`,
  String.raw` table.sort(auth)`,
  // One array per client (half the bytes of keyed objects): id, type, connected, first_seen,
  // last_seen, expires, auth, software, version, software_id, uri, device. See clientFromSocket.
  String.raw` out[#out + 1] = '[' .. str(c.id) .. ',' .. str(c.type) .. ',' .. (active.connected and "true" or "false")`,
  String.raw`  .. ',' .. ts(c.first_seen) .. ',' .. ts(c.last_seen) .. ',' .. ts(c.expires) .. ',[' .. table.concat(auth, ",") .. ']'`,
  String.raw`  .. ',' .. str(ua.software) .. ',' .. str(ua.software_version) .. ',' .. str(ua.software_id)`,
  String.raw`  .. ',' .. str(ua.uri) .. ',' .. str(ua.device) .. ']'`,
  String.raw`end`,
  String.raw`return send('{"jid":' .. str(user .. "@" .. host) .. ',"clients":[' .. table.concat(out, ",") .. ']}')`,
].join(" ");

const REVOKE_BODY = [
  `local ok, done, reason = pcall(cm.revoke_client_access, user, unhex(SELECTOR))`,
  `if not ok then return reply({ err = "internal-server-error", text = tostring(done) }) end`,
  `if done then return reply({ jid = user.."@"..host, revoked = true }) end`,
  `return reply({ err = tostring(reason or "internal-server-error") })`,
].join(" ");

/** One-line Lua chunk (prefixed with ">") that lists the account's clients as JSON. */
export function listClientsLua(jid: string): string {
  return `>local JID = ${luaHexString(jid)} ${PRELUDE} ${LIST_BODY}`;
}

/** One-line Lua chunk that revokes `selector` for the account and answers as JSON. */
export function revokeClientLua(jid: string, selector: string): string {
  return `>local JID, SELECTOR = ${luaHexString(jid)}, ${luaHexString(selector)} ${PRELUDE} ${REVOKE_BODY}`;
}
