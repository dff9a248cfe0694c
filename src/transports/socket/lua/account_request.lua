-- `camctl user clients` (the account's own facts) and `camctl user unlock` over Prosody's admin
-- socket: account_status.facts and account_unlock.unlock for one account, answered as a record
-- stream with no records, only the trailer (record_stream.lua).
--
-- Values arrive hex-encoded in ARGS (see camctl's src/transports/socket/lua.ts): data, never code.
--
-- Chunk arguments: admin_requests, account_status, account_unlock, record_stream.
local admin_requests, account_status, account_unlock, record_stream = ...;
local M = {};

local function io()
	return { print = print; base64 = require "prosody.util.encodings".base64.encode };
end

-- The facts as the trailer carries them (flat: strings, integers, booleans).
local function facts_meta(jid, f)
	return {
		jid = jid;
		status = f.status;
		disabled_reason = f.disabled_reason;
		disabled_at = f.disabled_at;
		password_updated = f.password_updated;
		last_activity = f.last_activity;
		activity_source = f.activity_source;
	};
end

--- ARGS: { jid }. Trailer: jid, status, disabled_reason, disabled_at, password_updated,
--- last_activity, activity_source (absent when unknown); or err.
function M.status(args)
	local target, failure = admin_requests.account(admin_requests.unhex(args.jid));
	if not target then return record_stream.fail(io(), failure); end
	return record_stream.start(io(), function () return nil; end, facts_meta(target.jid, account_status.facts(target.host, target.user)));
end

--- ARGS: { jid }. Trailer: jid, enabled_now, enabled (absent when unknown), and the facts before
--- as was_* (was_status, was_disabled_reason, was_disabled_at); or err and text.
function M.unlock(args)
	local target, failure = admin_requests.account(admin_requests.unhex(args.jid));
	if not target then return record_stream.fail(io(), failure); end
	local ctx = { host = target.host; actor = admin_requests.actor(args); log = require "prosody.util.logger".init("camctl") };
	local report, condition, text = account_unlock.unlock(ctx, target.user);
	if not report then return record_stream.fail(io(), { err = condition, text = text, jid = target.jid }); end
	return record_stream.start(io(), function () return nil; end, {
		jid = target.jid;
		enabled_now = report.enabled_now;
		enabled = report.enabled;
		was_status = report.was.status;
		was_disabled_reason = report.was.disabled_reason;
		was_disabled_at = report.was.disabled_at;
	});
end

return M;
