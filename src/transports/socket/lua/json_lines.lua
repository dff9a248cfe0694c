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
--- software, version, software_id, uri, device, then the network fields (client_network.annotate)
--- ip, connected_since, first_ip, first_login, last_ip, last_login, last_mechanism, login_count —
--- left out altogether when none is known (camctl reads missing positions as null): a fifth of the
--- bytes of a plain row, which every piece, base64 and XML layer would carry again. `d` is
--- client_access.describe(client). `before` and `after` (optional) go around the array in the
--- same string: the host scan's row is `[account,<client>,facts]`, and one concatenation instead
--- of three means fewer copies for Prosody's collector to pay for (BENCHMARKS.md).
function M.client(d, before, after)
	local str, int = M.str, M.int;
	before, after = before or "", after or "";
	local auth = d.auth;
	local auth_text;
	if #auth == 1 then auth_text = str(auth[1]); else
		local quoted = {};
		for i, method in ipairs(auth) do quoted[i] = str(method); end
		auth_text = table.concat(quoted, ",");
	end
	-- The network fields, when any is known (rare in a large scan: made only then).
	local network = "";
	if d.ip ~= nil or d.connected_since ~= nil or d.first_ip ~= nil or d.first_login ~= nil or d.last_ip ~= nil
		or d.last_login ~= nil or d.last_mechanism ~= nil or d.login_count ~= nil then
		network = "," .. str(d.ip) .. "," .. int(d.connected_since) .. "," .. str(d.first_ip) .. "," .. int(d.first_login)
			.. "," .. str(d.last_ip) .. "," .. int(d.last_login) .. "," .. str(d.last_mechanism) .. "," .. int(d.login_count);
	end
	return before .. "[" .. str(d.id) .. "," .. str(d.type) .. "," .. M.bool(d.connected)
		.. "," .. int(d.first_seen) .. "," .. int(d.last_seen) .. "," .. int(d.expires)
		.. ",[" .. auth_text .. "]"
		.. "," .. str(d.software) .. "," .. str(d.version) .. "," .. str(d.software_id)
		.. "," .. str(d.uri) .. "," .. str(d.device) .. network .. "]" .. after;
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
