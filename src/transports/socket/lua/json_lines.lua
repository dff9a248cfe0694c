-- JSON text of what camctl reads from the admin socket, one record per line. Written by hand:
-- util.json's generic encoder is several times slower for thousands of records.
-- Chunk arguments: client_access (prosody/mod_client_management_admin/client_access.lib.lua).
local client_access = ...;
local M = {};

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ["<"] = "\\u003c", [">"] = "\\u003e", ["&"] = "\\u0026",
	["\239\191\190"] = "\\ufffe", ["\239\191\191"] = "\\uffff" };
for i = 0, 31 do escapes[string.char(i)] = string.format("\\u%04x", i); end

-- What a string may hold to be written as it is: printable ASCII but " & < > \. (In decimal: a
-- range may not end in an escaped character, and an unescaped ] ends the class.)
local PLAIN = "[^\32\33\35\36%%\39-\59=\63-\91%]\94-\126]";

--- A JSON string, or null for anything that is not a string. Bytes that are not UTF-8 become
--- U+FFFD: Prosody refuses to send a reply that is not valid UTF-8. What XML cannot carry as it
--- is (markup, controls, U+FFFE, U+FFFF) is escaped too, so a line can go out as text
--- (record_stream.lua's xml_safe).
function M.str(v)
	if type(v) ~= "string" then return "null"; end
	-- Most values are plain printable ASCII without markup: nothing to check or escape.
	if not v:find(PLAIN) then return '"' .. v .. '"'; end
	local text = client_access.utf8_text(v):gsub('[\0-\31"\\<>&]', escapes);
	-- XML has no U+FFFE, U+FFFF or surrogates (Lua 5.4's utf8.len already refuses the latter).
	if text:find("\239\191[\190\191]") then text = text:gsub("\239\191[\190\191]", escapes); end
	if text:find("\237[\160-\191]") then text = text:gsub("\237[\160-\191][\128-\191]", "\\ufffd"); end
	return '"' .. text .. '"';
end

--- A JSON integer, or null.
function M.int(v)
	return math.type(v) == "integer" and string.format("%d", v) or "null";
end

function M.bool(v)
	return v and "true" or "false";
end

-- Fields of a client after the auth list, in order: strings, then (when any is known) the network
-- fields with their kinds.
local SOFTWARE_FIELDS = { "software", "version", "software_id", "uri", "device" };
local NETWORK_FIELDS = { "ip", "connected_since", "first_ip", "first_login", "last_ip", "last_login", "last_mechanism", "login_count" };
local NETWORK_INTEGERS = { connected_since = true, first_login = true, last_login = true, login_count = true };

-- A JSON string or null into buf after index n; returns the last index used. A plain string goes
-- in as it is, between two quotes: no new string.
local function put_str(buf, n, v)
	if type(v) == "string" and not v:find(PLAIN) then
		buf[n + 1], buf[n + 2], buf[n + 3] = '"', v, '"';
		return n + 3;
	end
	buf[n + 1] = M.str(v);
	return n + 1;
end

--- One client as an array, fields by position (half the bytes of an object; camctl's
--- clientFromSocket reads it): id, type, connected, first_seen, last_seen, expires, auth,
--- software, version, software_id, uri, device, then the network fields (client_network.annotate)
--- ip, connected_since, first_ip, first_login, last_ip, last_login, last_mechanism, login_count -
--- left out altogether when none is known (camctl reads missing positions as null): a fifth of the
--- bytes of a plain row, which every piece and XML layer would carry again. `d` is
--- client_access.describe(client). `before` and `after` (optional) go around the array: the host
--- scan's row is `[account,<client>,facts]`.
---
--- Written as pieces of text into buf after index n (returns the last index used), so a host scan
--- joins rows only once, into the piece they travel in (record_stream's record): every string made
--- costs Prosody's collector (BENCHMARKS.md). The text is xml_safe (see str).
function M.client_into(buf, n, d, before, after)
	if before then n = n + 1; buf[n] = before; end
	n = n + 1; buf[n] = "[";
	n = put_str(buf, n, d.id);
	n = n + 1; buf[n] = ",";
	n = put_str(buf, n, d.type);
	buf[n + 1], buf[n + 2], buf[n + 3], buf[n + 4], buf[n + 5], buf[n + 6], buf[n + 7] =
		d.connected and ",true," or ",false,", M.int(d.first_seen), ",", M.int(d.last_seen), ",", M.int(d.expires), ",[";
	n = n + 7;
	for i, method in ipairs(d.auth) do
		if i > 1 then n = n + 1; buf[n] = ","; end
		n = put_str(buf, n, method);
	end
	n = n + 1; buf[n] = "]";
	for _, field in ipairs(SOFTWARE_FIELDS) do
		n = n + 1; buf[n] = ",";
		n = put_str(buf, n, d[field]);
	end
	-- The network fields, when any is known (rare in a large scan).
	local known = false;
	for _, field in ipairs(NETWORK_FIELDS) do
		if d[field] ~= nil then known = true; break; end
	end
	if known then
		for _, field in ipairs(NETWORK_FIELDS) do
			n = n + 1; buf[n] = ",";
			if NETWORK_INTEGERS[field] then n = n + 1; buf[n] = M.int(d[field]); else n = put_str(buf, n, d[field]); end
		end
	end
	n = n + 1; buf[n] = "]";
	if after then n = n + 1; buf[n] = after; end
	return n;
end

-- client's buffer: one for every call, its slots overwritten.
local scratch = {};

--- One client as a string (client_into's text).
function M.client(d, before, after)
	return table.concat(scratch, "", 1, M.client_into(scratch, 0, d, before, after));
end

--- A revocation report of client_access.revoke, with `after` as a client array or null.
function M.revoke_report(report)
	return '{"id":' .. M.str(report.id)
		.. ',"session_closed":' .. M.bool(report.session_closed)
		.. ',"fast_tokens_revoked":' .. M.bool(report.fast_tokens_revoked)
		.. ',"grant_revoked":' .. M.bool(report.grant_revoked)
		.. ',"after":' .. (report.after and M.client(client_access.describe(report.after)) or "null") .. "}";
end

--- A flat object of strings, integers and booleans (keys sorted, so the text is predictable).
function M.object(t)
	local keys = {};
	for k in pairs(t) do keys[#keys + 1] = k; end
	table.sort(keys);
	local fields = {};
	for i, k in ipairs(keys) do
		local v = t[k];
		local text = type(v) == "boolean" and M.bool(v) or math.type(v) == "integer" and M.int(v) or M.str(v);
		fields[i] = M.str(k) .. ":" .. text;
	end
	return "{" .. table.concat(fields, ",") .. "}";
end

return M;
