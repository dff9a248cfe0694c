-- JSON text of what camctl reads from the admin socket, one record per line. Written by hand:
-- util.json's generic encoder is several times slower for thousands of records.
-- Chunk arguments: client_access (prosody/mod_client_management_admin/client_access.lib.lua).
local client_access = ...;
local M = {};

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\' };
for i = 0, 31 do escapes[string.char(i)] = string.format("\\u%04x", i); end

--- A JSON string, or null for anything that is not a string. Bytes that are not UTF-8 become
--- U+FFFD: Prosody refuses to send a reply that is not valid UTF-8.
function M.str(v)
	if type(v) ~= "string" then return "null"; end
	-- Most values are plain printable ASCII: nothing to check or escape.
	if not v:find('[^ !#-%[%]-~]') then return '"' .. v .. '"'; end
	return '"' .. client_access.utf8_text(v):gsub('[\0-\31"\\]', escapes) .. '"';
end

--- A JSON integer, or null.
function M.int(v)
	return math.type(v) == "integer" and string.format("%d", v) or "null";
end

function M.bool(v)
	return v and "true" or "false";
end

--- One client as an array, fields by position (half the bytes of an object; camctl's
--- clientFromSocket reads it): id, type, connected, first_seen, last_seen, expires, auth,
--- software, version, software_id, uri, device, then the network fields (client_network.annotate;
--- null where absent): ip, connected_since, first_ip, first_login, last_ip, last_login,
--- last_mechanism, login_count. `d` is client_access.describe(client).
function M.client(d)
	local auth = {};
	for i, method in ipairs(d.auth) do auth[i] = M.str(method); end
	return "[" .. M.str(d.id) .. "," .. M.str(d.type) .. "," .. M.bool(d.connected)
		.. "," .. M.int(d.first_seen) .. "," .. M.int(d.last_seen) .. "," .. M.int(d.expires)
		.. ",[" .. table.concat(auth, ",") .. "]"
		.. "," .. M.str(d.software) .. "," .. M.str(d.version) .. "," .. M.str(d.software_id)
		.. "," .. M.str(d.uri) .. "," .. M.str(d.device)
		.. "," .. M.str(d.ip) .. "," .. M.int(d.connected_since) .. "," .. M.str(d.first_ip) .. "," .. M.int(d.first_login)
		.. "," .. M.str(d.last_ip) .. "," .. M.int(d.last_login) .. "," .. M.str(d.last_mechanism) .. "," .. M.int(d.login_count) .. "]";
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
