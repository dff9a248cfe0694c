-- client_filter: the filters of camctl's host-wide listings, applied on the server so that only
-- matching rows travel. The same semantics as camctl's src/filters.ts (camctl applies that again
-- to whatever arrives, so a filter here may let more through, never less):
--
--   every filter given must match (AND); auth lists alternatives (any of them);
--   last_seen_before T   last seen before T, or never seen;
--   last_seen_after T    seen after T (never-seen clients do not match);
--   expires_before T     has an expiry, before T;
--   no_expiry            a grant (type access) without an expiry;
--   software N, software_version V   user-agent software exactly N (and version exactly V);
--   type, connected      exactly;
--   account G            glob (* and ?) on the localpart, or on the bare JID when G has an "@",
--                        case-insensitive (Prosody stores localparts case-folded).
--   T is whole Unix seconds; a client's times compare as whole seconds (client_access.whole_seconds).
--
-- Two callers: mod_client_management_admin loads it with module:require("client_filter") (no
-- chunk arguments: it then loads client_access itself), and a request over Prosody's admin socket
-- can pass client_access as its chunk argument (see camctl's src/socket/lua.ts). Pure Lua: it also
-- runs in a plain Lua interpreter (camctl's tests).

local client_access = ...;
if not client_access then
	client_access = module:require("client_access");
end

local M = {};

local TYPES = { session = true, access = true };
local AUTH_METHODS = { password = true, grant = true, fast = true };

-- One "character" of a string: a lead byte with its continuation bytes. Tolerant of bytes that
-- are not UTF-8 (each stray byte is a unit of its own), so it never raises.
local function units(s)
	local out, i, n = {}, 1, #s;
	while i <= n do
		local j = i + 1;
		while j <= n do
			local b = s:byte(j);
			if b < 0x80 or b > 0xBF then break; end
			j = j + 1;
		end
		out[#out + 1] = s:sub(i, j - 1);
		i = j;
	end
	return out;
end

local STAR, ANY = {}, {};

-- A glob as units: * and ? as markers, ASCII lower-cased, and any other character as "any one
-- character" (camctl folds case fully; here only ASCII is folded, so a wider match is the safe side).
local function compile_glob(glob)
	local pattern = {};
	for _, u in ipairs(units(glob)) do
		if u == "*" then
			if pattern[#pattern] ~= STAR then pattern[#pattern + 1] = STAR; end
		elseif u == "?" or #u > 1 or u:byte() >= 0x80 then
			pattern[#pattern + 1] = ANY;
		else
			pattern[#pattern + 1] = u:lower();
		end
	end
	return pattern;
end

-- Whether the units of `subject` match the compiled glob: linear matching with one backtrack
-- point per star (no recursion, no Lua patterns, whatever the glob).
local function glob_matches(pattern, subject)
	local s = units(subject);
	local pi, si, star, mark = 1, 1, nil, 1;
	while si <= #s do
		local p = pattern[pi];
		if p == ANY or (p ~= nil and p ~= STAR and p == s[si]:lower()) then
			pi, si = pi + 1, si + 1;
		elseif p == STAR then
			star, mark = pi, si;
			pi = pi + 1;
		elseif star then
			mark = mark + 1;
			pi, si = star + 1, mark;
		else
			return false;
		end
	end
	while pattern[pi] == STAR do pi = pi + 1; end
	return pi > #pattern;
end
M.glob_matches = function (glob, subject) return glob_matches(compile_glob(glob), subject); end

--- A filter from plain values (see the top of this file), checked; or nil and a sentence saying
--- which value is wrong. Absent (nil) values do not filter.
function M.compile(spec)
	spec = spec or {};
	local f = {};
	for _, name in ipairs({ "last_seen_before", "last_seen_after", "expires_before" }) do
		local v = spec[name];
		if v ~= nil then
			v = client_access.whole_seconds(v);
			if v == nil then return nil, name:gsub("_", "-") .. " is not a time"; end
			f[name] = v;
		end
	end
	f.no_expiry = spec.no_expiry == true;
	for _, name in ipairs({ "software", "software_version", "account" }) do
		local v = spec[name];
		if v ~= nil and (type(v) ~= "string" or v == "") then return nil, name:gsub("_", "-") .. " is empty"; end
		f[name] = v;
	end
	if f.software_version and not f.software then return nil, "a software version needs a software name"; end
	if spec.type ~= nil then
		if not TYPES[spec.type] then return nil, "type is session or access"; end
		f.type = spec.type;
	end
	if spec.connected ~= nil then
		if type(spec.connected) ~= "boolean" then return nil, "connected is true or false"; end
		f.connected = spec.connected;
	end
	if spec.auth ~= nil and #spec.auth > 0 then
		f.auth = {};
		for _, method in ipairs(spec.auth) do
			if not AUTH_METHODS[method] then return nil, "auth methods are password, grant and fast"; end
			f.auth[method] = true;
		end
	end
	if f.account then
		f.account_pattern = compile_glob(f.account);
		f.account_has_host = f.account:find("@", 1, true) ~= nil;
	end
	return f;
end

--- Whether the account username@host passes the account glob (true without one). Decided before
--- its clients are read, so accounts the glob excludes cost nothing.
function M.account_matches(f, username, host)
	if not f.account_pattern then return true; end
	return glob_matches(f.account_pattern, f.account_has_host and (username .. "@" .. host) or username);
end

local function same_text(stored, wanted)
	-- Over XMPP camctl sees stored texts as XML can carry them (client_access.xml_text).
	return stored == wanted or (stored ~= nil and client_access.xml_text(stored) == client_access.xml_text(wanted));
end

--- Whether one listed client passes every filter but the account glob. `d` is
--- client_access.describe(client).
function M.matches(f, d)
	if f.type and d.type ~= f.type then return false; end
	if f.connected ~= nil and d.connected ~= f.connected then return false; end
	if f.auth then
		local any = false;
		for _, method in ipairs(d.auth) do
			if f.auth[method] then any = true; break; end
		end
		if not any then return false; end
	end
	if f.software then
		if not same_text(d.software, f.software) then return false; end
		if f.software_version and not same_text(d.version, f.software_version) then return false; end
	end
	if f.last_seen_before and d.last_seen ~= nil and d.last_seen >= f.last_seen_before then return false; end
	if f.last_seen_after and (d.last_seen == nil or d.last_seen <= f.last_seen_after) then return false; end
	if f.expires_before and (d.expires == nil or d.expires >= f.expires_before) then return false; end
	if f.no_expiry and (d.type ~= "access" or d.expires ~= nil) then return false; end
	return true;
end

return M;
