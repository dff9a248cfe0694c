-- `camctl user lockout` over Prosody's admin socket: account_lockout.lockout for one account,
-- answered as a record stream (record_stream.lua).
--
-- Values from camctl's command line arrive hex-encoded in ARGS (see camctl's src/transports/socket/lua.ts):
-- a literal of [0-9a-f] cannot close its string, so no input can become code. That holds for the
-- new password too; it is never logged, printed or sent back.
--
-- Chunk arguments: admin_requests, client_access, account_lockout, json_lines, record_stream.
local admin_requests, client_access, account_lockout, json_lines, record_stream = ...;
local M = {};

--- ARGS: { jid, disable = "true" (optional), new_password (optional), reason (optional) }.
--- Records, in order: one object per client listed before ({ id, session_closed,
--- fast_tokens_revoked, grant_revoked } or { id, err, text }), then each client listed afterwards
--- as a client array (json_lines.client). Trailer meta: jid, grants_revoked, fast_tokens_revoked,
--- sessions_closed, disabled, already_disabled, reason, password_changed, enabled (absent when unknown), failures (texts
--- joined by a line feed, absent when none); or err and text when nothing was done.
function M.lockout(args)
	local io = { print = print; base64 = require "prosody.util.encodings".base64.encode };
	local unhex = admin_requests.unhex;
	local target, failure = admin_requests.account(unhex(args.jid));
	if not target then return record_stream.fail(io, failure); end
	local ctx = { host = target.host; actor = admin_requests.actor(args); log = require "prosody.util.logger".init("camctl") };
	local opts = { disable = unhex(args.disable) == "true"; new_password = unhex(args.new_password); reason = unhex(args.reason) };
	local report, condition, text = account_lockout.lockout(ctx, target.user, opts);
	opts.new_password = nil;
	if not report then
		return record_stream.fail(io, { err = condition, text = text, jid = target.jid });
	end
	admin_requests.record_event(target.host, target.user, "account-locked-out", account_lockout.event_fields(report, "admin socket", unhex(args.reason)));
	local i, j = 0, 0;
	local meta = {
		jid = target.jid;
		grants_revoked = report.grants_revoked;
		fast_tokens_revoked = report.fast_tokens_revoked;
		sessions_closed = report.sessions_closed;
		disabled = report.disabled;
		already_disabled = report.already_disabled;
		reason = report.reason;
		password_changed = report.password_changed;
		enabled = report.enabled;
		failures = #report.failures > 0 and table.concat(report.failures, "\n") or nil;
	};
	return record_stream.start(io, function ()
		i = i + 1;
		local entry = report.entries[i];
		if entry then return json_lines.object(entry); end
		repeat
			j = j + 1;
			if report.after[j] == nil then return nil; end
		until type(report.after[j]) == "table";
		return json_lines.client(client_access.describe(report.after[j]));
	end, meta);
end

return M;
