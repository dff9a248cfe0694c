-- The filters of camctl's host-wide listings (src/core/filters.ts, ClientFilter), applied in the server
-- so that only matching rows leave it. camctl applies the same filter again to what arrives, so
-- the one rule here is: never drop a row camctl's filter would keep. Where this cannot decide
-- exactly (a field of the wrong type, a glob with non-ASCII letters), it keeps the row.
--
-- One implementation, two callers (like client_access.lib.lua beside it): camctl's admin-socket
-- scan (src/transports/socket/lua/host_scan.lua) and mod_client_management_admin's host-wide listing over
-- XMPP (host_clients.lib.lua), which loads it with module:require("client_filter").
--
-- Chunk arguments: client_access (texts are compared as camctl receives them); without them (as
-- module:require loads it) it loads client_access itself.
local client_access = ...;
if not client_access then client_access = module:require("client_access"); end
local M = {};

local function int(v)
	return math.type(v) == "integer" and v or nil;
end

local function text(v)
	return type(v) == "string" and v or nil;
end

-- One UTF-8 character (or a stray byte, which utf8_text has already replaced).
local CHAR = "[%z\1-\127\194-\244][\128-\191]*";

-- ASCII letters only: string.lower follows the C locale, which could touch other bytes.
local function ascii_lower(s)
	return (s:gsub("[A-Z]", function (l) return string.char(l:byte() + 32); end));
end

local function chars(s)
	local out = {};
	for c in s:gmatch(CHAR) do out[#out + 1] = c; end
	return out;
end

-- Characters that JavaScript's case-insensitive Unicode matching folds onto ASCII letters
-- (KELVIN SIGN onto k, LONG S onto s): an account holding one cannot be judged by ASCII rules.
local FOLDS_TO_ASCII = { "\226\132\170", "\197\191" };

--- A matcher for camctl's --account glob (* any run, ? one character, the rest literal, ASCII
--- case-insensitive), or nil when the glob has non-ASCII characters: Unicode case folding is
--- left to camctl, and the server keeps every account.
function M.glob(glob)
	if glob:find("[\128-\255]") then return nil; end
	local pattern = chars(ascii_lower(glob));
	return function (subject)
		for _, c in ipairs(FOLDS_TO_ASCII) do
			if subject:find(c, 1, true) then return true; end
		end
		local s = chars(ascii_lower(subject));
		-- Classic wildcard matching with one backtrack point (the last *).
		local p, i, star, mark = 1, 1, nil, nil;
		while i <= #s do
			local pc = pattern[p];
			if pc == "*" then
				star, mark, p = p, i, p + 1;
			elseif pc ~= nil and (pc == "?" or pc == s[i]) then
				p, i = p + 1, i + 1;
			elseif star then
				mark = mark + 1;
				p, i = star + 1, mark;
			else
				return false;
			end
		end
		while pattern[p] == "*" do p = p + 1; end
		return pattern[p] == nil;
	end;
end

--- The filter camctl sent (its ClientFilter as decoded JSON, nulls left out) in checked form.
--- A field of an unexpected type is treated as absent: the server then sends more, never less.
function M.compile(f)
	if type(f) ~= "table" then f = {}; end
	local c = {
		last_seen_before = int(f.lastSeenBefore);
		last_seen_after = int(f.lastSeenAfter);
		expires_before = int(f.expiresBefore);
		-- --account-inactive-since: the account's last activity (account_status.lib.lua) is known
		-- and before this time. Unknown activity never matches.
		account_inactive_since = int(f.accountInactiveSince);
		no_expiry = f.noExpiry == true;
		type = (f.type == "session" or f.type == "access") and f.type or nil;
		connected = nil;
		auth = nil;
		software = nil;
		software_version = nil;
		account = nil;
		account_has_domain = false;
	};
	if type(f.connected) == "boolean" then c.connected = f.connected; end
	if type(f.auth) == "table" and #f.auth > 0 then
		local auth = {};
		for _, method in ipairs(f.auth) do
			if type(method) ~= "string" then auth = nil; break; end
			auth[method] = true;
		end
		c.auth = auth;
	end
	if type(f.software) == "table" and text(f.software.name) then
		c.software = f.software.name;
		c.software_version = text(f.software.version);
	end
	if text(f.account) then
		c.account = M.glob(f.account);
		c.account_has_domain = f.account:find("@", 1, true) ~= nil;
	end
	return c;
end

--- Whether the account (its localpart and host) can have matching clients at all.
function M.account_matches(c, username, host)
	if not c.account then return true; end
	local subject = c.account_has_domain and (username .. "@" .. host) or username;
	return c.account(client_access.utf8_text(subject));
end

--- Whether the account's last activity (Unix seconds or nil; account_status.facts) passes
--- --account-inactive-since: known and before that time.
function M.activity_matches(c, last_activity)
	if not c.account_inactive_since then return true; end
	return last_activity ~= nil and last_activity < c.account_inactive_since;
end

-- Whether a stored text is `wanted` as camctl receives it: over the admin socket as UTF-8
-- (utf8_text), over XMPP with what XML cannot carry replaced (xml_text).
local function received_as(stored, wanted)
	if stored == nil then return false; end
	return client_access.utf8_text(stored) == wanted or client_access.xml_text(stored) == wanted;
end

--- Whether one client passes the filter. `d` is client_access.describe(client): the same values
--- camctl receives (whole seconds, nil outside years 0000-9999).
function M.client_matches(c, d)
	if c.type and d.type ~= c.type then return false; end
	if c.connected ~= nil and d.connected ~= c.connected then return false; end
	if c.auth then
		local any = false;
		for _, method in ipairs(d.auth) do
			if c.auth[method] then any = true; break; end
		end
		if not any then return false; end
	end
	if c.software then
		if not received_as(d.software, c.software) then return false; end
		if c.software_version and not received_as(d.version, c.software_version) then return false; end
	end
	-- Not seen since T: last seen before T, or never.
	if c.last_seen_before and d.last_seen ~= nil and d.last_seen >= c.last_seen_before then return false; end
	if c.last_seen_after and (d.last_seen == nil or d.last_seen <= c.last_seen_after) then return false; end
	if c.expires_before and (d.expires == nil or d.expires >= c.expires_before) then return false; end
	if c.no_expiry and (d.type ~= "access" or d.expires ~= nil) then return false; end
	return true;
end

return M;
