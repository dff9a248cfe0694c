-- client_network: where a listed client connects from, and what the companion module recorded
-- about its logins. Adds these fields to a client_access.describe() table:
--   ip, connected_since          the live session (nil when the client is not connected)
--   first_ip, first_login, last_ip, last_login, last_mechanism, login_count
--                                the companion's records (nil when there are none)
--
-- Like client_access.lib.lua, one file for two callers: the companion module (module:require)
-- and camctl over the admin socket, which sends this file as a chunk. It uses only globals both
-- environments have, looked up inside the functions, so it also loads in a plain Lua interpreter.
-- The records themselves are written by network_record.lib.lua (companion only); callers on the
-- admin socket read them through the companion's global camctl_client_network(username).
-- Chunk arguments (admin socket): client_access; the companion's module:require passes none.
local client_access = ...;
if type(client_access) ~= "table" then client_access = module:require("client_access"); end
local M = {};

local function text(v) return type(v) == "string" and v or nil; end
local EMPTY = {};

--- The live session of a listed session client, or nil. The full JID must be bound by this very
--- client: same SASL2 client id, or none for a legacy client (tracked by resource).
function M.session_of(client)
	return client_access.session_of(client);
end

--- The record of a listed client among `facts` (the map the companion keeps per account, keyed by
--- the listed id), or nil.
function M.record_of(client, facts)
	if type(facts) ~= "table" or type(client) ~= "table" or type(client.id) ~= "string" then return nil; end
	local record = facts[client.id];
	return type(record) == "table" and record or nil;
end

--- `d` (client_access.describe(client)) with the network fields, each set (nil when unknown);
--- `facts` may be nil.
function M.annotate(d, client, facts)
	-- Every field is set, known or nil: a host scan passes the same `d` for every client.
	local session = d.connected and M.session_of(client) or nil;
	d.ip = session and text(session.ip) or nil;
	d.connected_since = session and client_access.whole_seconds(session.conntime) or nil;
	local record = M.record_of(client, facts) or EMPTY;
	d.first_ip = text(record.first_ip);
	d.first_login = client_access.whole_seconds(record.first_login);
	d.last_ip = text(record.last_ip);
	d.last_login = client_access.whole_seconds(record.last_login);
	d.last_mechanism = text(record.last_mechanism);
	d.login_count = math.type(record.logins) == "integer" and record.logins or nil;
	return d;
end

--- The companion's records for username@host (a map keyed by listed id), or nil when the companion
--- is not loaded there (or its store could not be read).
function M.facts_for(host, username)
	local host_session = type(prosody) == "table" and prosody.hosts and prosody.hosts[host];
	local companion = host_session and host_session.modules and host_session.modules.client_management_admin;
	local read = type(companion) == "table" and companion.camctl_client_network;
	if type(read) ~= "function" then return nil; end
	local ok, facts = pcall(read, username);
	if not ok or type(facts) ~= "table" then return nil; end
	return facts;
end

return M;
