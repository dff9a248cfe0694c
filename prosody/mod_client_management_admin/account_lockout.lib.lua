-- account_lockout: ends everything that lets an account back in without its password, and, if
-- asked, the password too (the account is disabled, or gets a new password).
--
-- Like client_access.lib.lua, one implementation with two callers: mod_client_management_admin
-- loads it (module:require("account_lockout")) for admins over XMPP, and camctl sends this very
-- file over Prosody's admin socket for `camctl user lockout --socket`, passing client_access as
-- the chunk's argument. It uses only globals both environments have and Prosody's public APIs:
-- client_access.revoke for every listed client (the same complete revocation as one revoke),
-- mod_tokenauth's get_user_grants/revoke_grant, usermanager's disable_user/set_password, the
-- storage manager, and the sessions' own close().
--
-- Order matters. Everything is revoked while the clients are still listed (a new password or a
-- disabled account hides them from get_active_clients), then the password is changed or the
-- account disabled, then every session of the account is closed: bound or not (a login that
-- authenticated but has not bound a resource yet) and every login still in progress that names
-- the account (a SCRAM exchange holds the stored key from its client-first message, so it would
-- succeed with the old password after the change, and could ask for a FAST token). Then the FAST
-- tokens are swept once more and what is left is checked.
--
-- The whole lockout runs in one go, without yielding: none of the calls below waits for the
-- network (internal and SQL storage answer at once), so Prosody reads nothing from any client
-- while it runs. That is what makes the order above enough: no login can complete, no resource
-- be bound and no token be minted between the steps, and once the sessions are closed every
-- later login starts from scratch, against the new password or the disabled account. Do not add
-- anything that waits (async.wait, a timer, an HTTP request) in here.
--
-- Each step that calls another module is protected: a raise or a refusal there (a storage error)
-- becomes a failure naming the step, and the other steps still run (each only takes access away,
-- so going on is always safe). The caller reports the failures; nothing is "verified" with one.

local client_access = ...;
if client_access == nil then
	-- Loaded by the module (module:require passes no arguments).
	client_access = module:require("client_access");
end

local M = {};

-- The stream error every session still open at the end is closed with.
M.CLOSE_REASON = { condition = "not-authorized"; text = "Access to this account was revoked" };

-- mod_sasl2_fast keeps an account's FAST tokens in its "fast_tokens" map store, under
-- sha256(client id) .. "-cur" and "-new". revoke_fast_tokens needs the client id, which cannot be
-- recovered from the hash, so tokens of client ids that are not listed (or never were) are found
-- by reading the account's keys and removed key by key, the way revoke_fast_tokens removes them.
-- Returns how many tokens that had not expired were removed, or nil and the error.
local function revoke_every_fast_token(host, username)
	local storagemanager = require "prosody.core.storagemanager";
	local ok, tokens, err = pcall(function ()
		return storagemanager.open(host, "fast_tokens"):get(username);
	end);
	if not ok then return nil, tostring(tokens); end
	if tokens == nil then
		if err then return nil, tostring(err); end
		return 0;
	elseif type(tokens) ~= "table" then
		return nil, "the store holds " .. type(tokens) .. " data, not a table of tokens";
	end
	local map = storagemanager.open(host, "fast_tokens", "map");
	local now, count = os.time(), 0;
	for key, token in pairs(tokens) do
		if type(key) == "string" and (key:sub(-4) == "-cur" or key:sub(-4) == "-new") then
			local set_ok, set_err = map:set(username, key, nil);
			if not set_ok then return nil, tostring(set_err); end
			if type(token) == "table" and (tonumber(token.expires_at) or 0) >= now then
				count = count + 1;
			end
		end
	end
	return count;
end

-- Every grant of the account, listed or not (get_user_grants drops the invalid ones itself).
-- Returns how many were revoked, or nil and the error.
local function revoke_every_grant(tokenauth, host, username)
	if type(tokenauth) ~= "table" or type(tokenauth.get_user_grants) ~= "function" then return 0; end
	local grants = tokenauth.get_user_grants(username);
	if grants == nil then
		-- get_user_grants answers nil both for no grants and for a store it could not read: ask
		-- its store (mod_tokenauth's "auth_tokens") which one it is.
		local _, err = require "prosody.core.storagemanager".open(host, "auth_tokens"):get(username);
		if err ~= nil then return nil, tostring(err); end
	end
	local ids = {};
	for grant_id, grant in pairs(grants or {}) do
		if grant then ids[#ids + 1] = grant_id; end
	end
	for _, grant_id in ipairs(ids) do
		local ok, err = tokenauth.revoke_grant(username, grant_id);
		if not ok then return nil, tostring(err); end
	end
	return #ids;
end

-- Sessions kept by a global module in module:shared("sessions") (mod_c2s's table, which
-- mod_websocket shares, holds every c2s connection, authenticated or not; mod_bosh has its own),
-- or an empty table when the module is not loaded.
local function shared_sessions(module_name)
	local env = require "prosody.core.modulemanager".get_module("*", module_name); -- the module's environment
	local mod = type(env) == "table" and env.module or nil;
	if type(mod) ~= "table" or type(mod.shared) ~= "function" then return {}; end
	return mod:shared("sessions"); -- "/*/<module_name>/sessions"
end

-- Every session of username@host: bound (host_session.sessions, which also holds sessions
-- waiting to be resumed), authenticated but not bound yet (session.username), and logins in
-- progress whose SASL exchange names the account (util.sasl keeps the name in handler.username,
-- SCRAM from its client-first message on).
local function sessions_of(host_session, host, username)
	local found, list = {}, {};
	local function consider(session)
		if type(session) ~= "table" or found[session] or session.host ~= host then return; end
		local handler = session.sasl_handler;
		local authenticating = type(handler) == "table" and (handler.username
			or type(handler.state) == "table" and handler.state.username) or nil;
		if session.username == username or authenticating == username then
			found[session] = true;
			list[#list + 1] = session;
		end
	end
	local user = host_session.sessions and host_session.sessions[username];
	for _, session in pairs(user and user.sessions or {}) do consider(session); end
	for _, session in pairs(shared_sessions("c2s")) do consider(session); end
	for _, session in pairs(shared_sessions("bosh")) do consider(session); end
	return list;
end

-- Closes every session of the account (see sessions_of) with a stream error, which ends it at
-- once (a close without one would go on reading the client for c2s_close_timeout). Returns how
-- many were closed, and how many are still there afterwards.
local function close_every_session(host_session, host, username)
	local open = sessions_of(host_session, host, username);
	for _, session in ipairs(open) do
		if type(session.close) == "function" then pcall(session.close, session, M.CLOSE_REASON); end
	end
	return #open, #sessions_of(host_session, host, username);
end

-- One step of the lockout: f's raise, or its nil and error, is recorded as "<what> failed: ...".
-- Returns f's result (nil when it failed).
local function step(report, what, f, ...)
	local ok, result, err = pcall(f, ...);
	if not ok then result, err = nil, result; end
	if result == nil then
		report.failures[#report.failures + 1] = what .. " failed: " .. tostring(err or "no reason given");
	end
	return result;
end

-- The longest reason kept, in bytes (camctl allows 200 characters; 4 bytes each at most).
M.REASON_MAX_BYTES = 800;

--- The operator's reason as stored: untrusted text, so control characters become spaces and it is
--- cut (at a character boundary) to REASON_MAX_BYTES; nil for none or an empty one. camctl checks it
--- before sending; this holds for any other sender too.
function M.clean_reason(reason)
	if type(reason) ~= "string" then return nil; end
	reason = client_access.utf8_text(reason):gsub("[%c\127]", " ");
	if #reason > M.REASON_MAX_BYTES then
		local cut = M.REASON_MAX_BYTES;
		while cut > 0 and reason:byte(cut + 1) and reason:byte(cut + 1) >= 0x80 and reason:byte(cut + 1) < 0xC0 do cut = cut - 1; end
		reason = reason:sub(1, cut);
	end
	if not reason:find("%S") then return nil; end
	return reason;
end

--- Locks username@host out.
---
--- ctx: as for client_access.revoke ({ host, actor, log }).
--- opts: { disable = true|nil, new_password = "..."|nil } (at most one of them; neither: only the
---       revocations, the password keeps working), reason = "..."|nil (stored with the disable).
---
--- Returns a report:
---   { entries = { { id, session_closed, fast_tokens_revoked, grant_revoked } or { id, err, text } ... }
---       (one per client listed before, in list order),
---     grants_revoked, fast_tokens_revoked, sessions_closed (counts of the sweep after the entries),
---     disabled = the account was disabled now, already_disabled = it was disabled before (and was
---       left so, with its first reason), reason = the reason as stored, password_changed = a new password was set now,
---     enabled = whether the account can log in afterwards (nil: the auth provider cannot tell),
---     failures = { "what could not be done", ... },
---     after = the clients listed afterwards }
--- or nil, condition, text: "module-not-loaded", "disable-unsupported", "password-unsupported",
--- "forbidden", "internal-server-error" - and then nothing was changed.
function M.lockout(ctx, username, opts)
	local host, log = ctx.host, ctx.log;
	opts.reason = M.clean_reason(opts.reason);
	local target = username .. "@" .. host;
	local host_session, modules, cm = client_access.host_modules(host);
	if not cm then return nil, "module-not-loaded"; end
	local usermanager = require "prosody.core.usermanager";
	local provider = host_session.users or {};
	-- What cannot be done is refused before anything is revoked.
	if opts.disable and type(provider.disable) ~= "function" then
		return nil, "disable-unsupported", "this host's authentication provider cannot disable accounts";
	end
	if opts.new_password and type(provider.set_password) ~= "function" then
		return nil, "password-unsupported", "this host's authentication provider cannot set passwords";
	end

	local before, condition, text = client_access.list_clients(cm, username);
	if not before then return nil, condition, text; end

	local report = { entries = {}; failures = {}; grants_revoked = 0; fast_tokens_revoked = 0; sessions_closed = 0;
		disabled = false; password_changed = false };

	-- 1. Each listed client, completely (its own log line names the actor).
	for _, client in ipairs(before) do
		if type(client) == "table" and type(client.id) == "string" then
			local ok, revoked, revoke_condition, revoke_text = pcall(client_access.revoke, ctx, username, client.id, nil);
			if not ok then revoked, revoke_condition, revoke_text = nil, "internal-server-error", tostring(revoked); end
			if revoked then
				report.entries[#report.entries + 1] = { id = client.id; session_closed = revoked.session_closed;
					fast_tokens_revoked = revoked.fast_tokens_revoked; grant_revoked = revoked.grant_revoked };
			else
				report.entries[#report.entries + 1] = { id = client.id; err = revoke_condition; text = revoke_text };
			end
		end
	end

	-- 2. What the list does not show: grants, FAST tokens of any client id.
	report.grants_revoked = step(report, "revoking the grants", revoke_every_grant, modules.tokenauth, host, username) or 0;
	report.fast_tokens_revoked = step(report, "revoking the FAST tokens", revoke_every_fast_token, host, username) or 0;

	-- 3. The password: a new one, or none at all. The password itself is never logged or returned.
	if opts.new_password then
		report.password_changed = step(report, "setting the new password", usermanager.set_password,
			username, opts.new_password, host, nil) ~= nil;
	elseif opts.disable then
		-- An account disabled already keeps its disable (and the reason and time stored with it,
		-- the incident record of the first lockout): only the revocations above are done again.
		local was_ok, was_enabled = pcall(usermanager.user_is_enabled, username, host);
		if was_ok and was_enabled == false then
			report.already_disabled = true;
		else
			-- usermanager passes this meta to the provider (Prosody's internal auth keeps it as the
			-- account's disabled_meta, account_status.lib.lua reads it back) and to the
			-- `user-disabled` event, where mod_audit and other listeners see it.
			report.disabled = step(report, "disabling the account", usermanager.disable_user,
				username, host, { reason = opts.reason; by = ctx.actor; when = os.time(); via = "camctl user lockout" }) ~= nil;
		end
	end

	-- 4. Every session of the account, bound or not, and every login in progress that names it.
	local closed, still_open = close_every_session(host_session, host, username);
	report.sessions_closed = closed;
	if still_open > 0 then
		report.failures[#report.failures + 1] = ("closing the sessions failed: %d still open"):format(still_open);
	end

	-- 5. FAST tokens once more: one minted after step 2 (it cannot be while nothing yields, but
	-- this is what makes the report true whatever happened) is removed now.
	local late = step(report, "revoking the FAST tokens again", revoke_every_fast_token, host, username);
	report.fast_tokens_revoked = report.fast_tokens_revoked + (late or 0);

	-- What Prosody keeps out of reach: mod_http_oauth2 holds the authorization and device codes
	-- it issued in its own memory for 10 minutes, and exchanging one makes a new grant, valid
	-- after the new password and usable over HTTP on a disabled account. (Without a password
	-- action a code is just another way in with the password, which is left by choice.)
	if modules.http_oauth2 ~= nil and (opts.disable or opts.new_password) then
		report.failures[#report.failures + 1] = "mod_http_oauth2 is loaded on " .. host
			.. ": an authorization or device code it issued in the 10 minutes before this lockout can still be exchanged"
			.. " for a new grant (Prosody keeps those codes out of reach); lock the account out again once 10 minutes have passed";
	end

	local after, after_condition, after_text = client_access.list_clients(cm, username);
	if not after then
		report.failures[#report.failures + 1] = "listing the clients afterwards failed: " .. tostring(after_text or after_condition);
		after = {};
	end
	report.after = after;
	local enabled_ok, enabled = pcall(usermanager.user_is_enabled, username, host);
	if enabled_ok and type(enabled) == "boolean" then report.enabled = enabled; end

	local revoked_entries, gone_entries, failed_entries = 0, 0, 0;
	for _, entry in ipairs(report.entries) do
		if entry.err == nil then revoked_entries = revoked_entries + 1;
		elseif entry.err == "gone" then gone_entries = gone_entries + 1; -- went with another one (a grant with its client)
		else failed_entries = failed_entries + 1; end
	end
	local entry_notes = {};
	if gone_entries > 0 then entry_notes[#entry_notes + 1] = gone_entries .. " gone with another"; end
	if failed_entries > 0 then entry_notes[#entry_notes + 1] = failed_entries .. " FAILED"; end
	local left = {};
	for _, client in ipairs(after) do
		if type(client) == "table" then left[#left + 1] = tostring(client.id); end
	end
	report.reason = opts.reason;
	log(#report.failures > 0 and "warn" or "info",
		"%s locked out %s: revoked %d listed clients%s, %d more grants, %d more FAST tokens; %s; closed %d more sessions; %s%s%s",
		ctx.actor, target, revoked_entries, #entry_notes > 0 and (" (" .. table.concat(entry_notes, ", ") .. ")") or "",
		report.grants_revoked, report.fast_tokens_revoked,
		report.password_changed and "set a new password" or report.disabled and "disabled the account"
			or report.already_disabled and "the account was already disabled" or "left the password",
		report.sessions_closed,
		#left > 0 and ("still listed: " .. table.concat(left, ", ")) or "nothing listed",
		#report.failures > 0 and ("; FAILED: " .. table.concat(report.failures, "; ")) or "",
		opts.reason and ("; reason: " .. string.format("%q", opts.reason)) or "");
	client_access.announce(host, "camctl/account-locked-out", { username = username; host = host;
		detail = tostring(ctx.actor) .. " locked it out: " .. (report.password_changed and "set a new password"
			or report.disabled and "disabled the account" or "left the password") });
	return report;
end

--- The fields of a lock-out's history record (event "account-locked-out"): who asked, why, and
--- what the lock-out did (`report`, as M.lockout returns it). The companion and camctl's admin-
--- socket request record the same.
function M.event_fields(report, actor, reason)
	return {
		actor = actor;
		reason = reason;
		clientsRevoked = #report.entries;
		grantsRevoked = report.grants_revoked;
		fastTokensRevoked = report.fast_tokens_revoked;
		sessionsClosed = report.sessions_closed;
		disabled = report.disabled;
		passwordChanged = report.password_changed;
	};
end

return M;
