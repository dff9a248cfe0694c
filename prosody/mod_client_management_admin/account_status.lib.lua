-- account_status: what Prosody knows about an account itself (not its clients): whether it is
-- enabled, why and when it was disabled, when its password last changed, and when it was last
-- active. Read-only.
--
-- One implementation, several callers (like client_access.lib.lua beside it): camctl sends this
-- file over the admin socket (host listings, `user clients`, `user unlock`), and
-- mod_client_management_admin loads it with module:require("account_status") for the same answers
-- over XMPP. It uses only Prosody's public APIs and stores:
--
--   status, password_updated   usermanager.get_account_info (Prosody 13: { created,
--                              password_updated, enabled }); nil when the provider cannot say.
--   disabled_reason/_by/_at    the `meta` usermanager.disable_user passed to the provider.
--                              mod_auth_internal_hashed (and _plain) keep it as `disabled_meta` in
--                              the account's record of the "accounts" store; get_account_info does
--                              not return it, so it is read from that store and only these three
--                              fields leave this file (the record also holds the password's keys).
--                              Prosody's enable does not clear disabled_meta: it is only reported
--                              while the account is disabled.
--   last_activity, online      Prosody 13's mod_account_activity (get_last_active: now while a
--                              session is bound, else the "account_activity" store's timestamp,
--                              written at each login and each resource unbind), or, where that is
--                              not loaded and the community mod_lastlog2 is, its "lastlog2" store
--                              (the later of its "login" and "logout" timestamps; its own
--                              get_last_active compares those tables with math.max and raises, so
--                              it is not called). Neither loaded: source nil, last_activity nil.
local M = {};

local function int(v)
	v = tonumber(v);
	if v == nil or v ~= v or v == math.huge or v == -math.huge then return nil; end
	return math.floor(v);
end

-- The activity source loaded on host: "account_activity", "lastlog2" or nil.
function M.activity_source(host)
	local host_session = prosody.hosts[host];
	local modules = host_session and host_session.modules or {};
	if type(modules.account_activity) == "table" then return "account_activity"; end
	if type(modules.lastlog2) == "table" then return "lastlog2"; end
	return nil;
end

-- Last activity of username@host from the source: unix seconds or nil, and whether online now.
local function last_activity(host, username, source)
	local host_session = prosody.hosts[host];
	local online = host_session and host_session.sessions and host_session.sessions[username] ~= nil or false;
	if source == "account_activity" then
		local env = host_session.modules.account_activity;
		if type(env.get_last_active) == "function" then
			local ok, ts = pcall(env.get_last_active, username);
			if ok then return int(ts), online; end
		end
		local ok, data = pcall(function ()
			return require "prosody.core.storagemanager".open(host, "account_activity"):get(username);
		end);
		return ok and type(data) == "table" and int(data.timestamp) or nil, online;
	elseif source == "lastlog2" then
		if online then return os.time(), true; end
		local ok, data = pcall(function ()
			return require "prosody.core.storagemanager".open(host, "lastlog2"):get(username);
		end);
		if not ok or type(data) ~= "table" then return nil, online; end
		local latest;
		for _, key in ipairs({ "login", "logout" }) do
			local t = type(data[key]) == "table" and int(data[key].timestamp) or nil;
			if t and (latest == nil or t > latest) then latest = t; end
		end
		return latest, online;
	end
	return nil, online;
end

-- The disable meta Prosody's internal auth providers keep in the accounts store, or nil.
local function disabled_meta(host, username)
	local ok, account = pcall(function ()
		return require "prosody.core.storagemanager".open(host, "accounts"):get(username);
	end);
	if not ok or type(account) ~= "table" or type(account.disabled_meta) ~= "table" then return nil; end
	return account.disabled_meta;
end

--- The facts of username@host: { status = "enabled" | "disabled" | nil, disabled_reason,
--- disabled_by, disabled_at, password_updated, last_activity, online, activity_source }; nil
--- fields are unknown. `source` is activity_source(host) when the caller has it already.
function M.facts(host, username, source)
	local usermanager = require "prosody.core.usermanager";
	local f = {};
	if source == nil then source = M.activity_source(host); end
	f.activity_source = source or nil;
	local ok, info = pcall(usermanager.get_account_info, username, host);
	if ok and type(info) == "table" then
		if type(info.enabled) == "boolean" then f.status = info.enabled and "enabled" or "disabled"; end
		f.password_updated = int(info.password_updated);
	end
	if f.status == "disabled" then
		local meta = disabled_meta(host, username);
		if meta then
			f.disabled_reason = type(meta.reason) == "string" and meta.reason or nil;
			f.disabled_by = type(meta.by) == "string" and meta.by or nil;
			f.disabled_at = int(meta.when);
		end
	end
	if source then f.last_activity, f.online = last_activity(host, username, source); end
	return f;
end

return M;
