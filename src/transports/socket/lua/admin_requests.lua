-- The requests camctl makes over Prosody's admin socket: list an account's clients, and revoke
-- one of them completely. Each answers as a record stream (record_stream.lua).
--
-- Values from camctl's command line arrive hex-encoded in ARGS (see camctl's src/transports/socket/lua.ts):
-- a literal of [0-9a-f] cannot close its string, so no input can become code.
--
-- Chunk arguments: client_access, json_lines, record_stream, history_log (optional: where
-- camctl's own events are recorded, prosody/mod_client_management_admin/history_log.lib.lua),
-- client_network (optional: the companion's per-client login records).
local client_access, json_lines, record_stream, history_log, client_network = ...;
local M = {};
M.history_log = history_log;

--- Records one of camctl's own events in the account's history (history_log.record); a failure
--- to record is logged, never fatal: the change itself is done.
function M.record_event(host, user, event_type, detail)
	if not history_log then return; end
	local where, err = history_log.record(host, user, event_type, detail);
	if not where then
		require "prosody.util.logger".init("camctl")("warn", "Could not record %s of %s@%s in the history: %s", event_type, user, host, tostring(err));
	end
end

--- The bytes a hex literal stands for; nil stays nil (an absent value).
function M.unhex(h)
	if h == nil then return nil; end
	return (h:gsub("%x%x", function (c) return string.char(tonumber(c, 16)); end));
end
local unhex = M.unhex;

--- Who asks, for Prosody's log: "admin socket (user root, sudo alice)". The names come from
--- camctl's environment (untrusted): at most 64 bytes each, anything but [A-Za-z0-9._@-] shown as
--- "?", so a name can never add a line or a field to the log. Plain "admin socket" without them.
function M.actor(args)
	local function name(hex)
		local s = unhex(hex);
		if type(s) ~= "string" or s == "" then return nil; end
		return (s:sub(1, 64):gsub("[^%w%._@%-]", "?"));
	end
	local parts = {};
	local user, sudo = name(args.os_user), name(args.sudo_user);
	if user then parts[#parts + 1] = "user " .. user; end
	if sudo then parts[#parts + 1] = "sudo " .. sudo; end
	if #parts == 0 then return "admin socket"; end
	return "admin socket (" .. table.concat(parts, ", ") .. ")";
end

local function reply_io()
	return { print = print; base64 = require "prosody.util.encodings".base64.encode };
end

-- The account, its host and that host's mod_client_management; or nil and the failure, as the
-- trailer's err (invalid-jid, host-not-found, module-not-loaded, user-not-found).
local function account(jid_text)
	local user, host = require "prosody.util.jid".prepped_split(jid_text);
	if not user or not host then return nil, { err = "invalid-jid" }; end
	local host_session = prosody.hosts[host];
	if not host_session then return nil, record_stream.host_not_found(host); end
	local cm = host_session.modules and host_session.modules.client_management;
	if type(cm) ~= "table" or type(cm.get_active_clients) ~= "function" then
		return nil, { err = "module-not-loaded", host = host };
	end
	if not require "prosody.core.usermanager".user_exists(user, host) then
		return nil, { err = "user-not-found", jid = user .. "@" .. host };
	end
	return { user = user, host = host, cm = cm, jid = user .. "@" .. host };
end
M.account = account;

-- The account's own facts (account_status.facts) as trailer fields, with facts = true; none when
-- reading them failed (camctl then asks for them on their own, lua/account_request.lua status).
local function facts_fields(meta, account_status, target)
	local ok, f = pcall(account_status.facts, target.host, target.user);
	if not ok or type(f) ~= "table" then return; end
	meta.facts = true;
	meta.status = f.status;
	meta.disabled_reason = f.disabled_reason;
	meta.disabled_at = f.disabled_at;
	meta.password_updated = f.password_updated;
	meta.last_activity = f.last_activity;
	meta.activity_source = f.activity_source;
end

--- ARGS: { jid }. Records: one client array per line (json_lines.client); trailer meta: jid, and
--- with account_status (account_status.lib.lua, passed by `user clients`' own request so that one
--- round trip answers both) the account's facts as account_request.status has them, and facts = true.
function M.list(args, account_status)
	local io = reply_io();
	local target, failure = account(unhex(args.jid));
	if not target then return record_stream.fail(io, failure); end
	local ok, clients, reason = pcall(target.cm.get_active_clients, target.user);
	if not ok then
		return record_stream.fail(io, { err = "internal-server-error", text = tostring(clients) });
	elseif type(clients) ~= "table" then
		-- nil, error: the module could not read its store. That is not an empty list.
		reason = reason ~= nil and tostring(reason) or nil;
		return record_stream.fail(io, { err = client_access.condition_of(reason), text = reason ~= "internal-server-error" and reason or nil });
	end
	local i = 0;
	-- The companion's login records, when it is loaded on the host (client_network.lib.lua).
	local facts = client_network and client_network.facts_for(target.host, target.user);
	local meta = { jid = target.jid };
	if account_status then facts_fields(meta, account_status, target); end
	return record_stream.start(io, function ()
		repeat
			i = i + 1;
			if clients[i] == nil then return nil; end
		until type(clients[i]) == "table";
		local d = client_access.describe(clients[i]);
		if client_network then client_network.annotate(d, clients[i], facts); end
		return json_lines.client(d);
	end, meta);
end

--- ARGS: { jid, id, type, first_seen (decimal seconds), software, device }; the last three are
--- absent when the listed client had none. Records: one revocation report
--- (json_lines.revoke_report); trailer meta: jid, or err (client_access.revoke's conditions) and text.
function M.revoke(args)
	local io = reply_io();
	local target, failure = account(unhex(args.jid));
	if not target then return record_stream.fail(io, failure); end
	local expect = {
		type = unhex(args.type);
		first_seen = tonumber(unhex(args.first_seen));
		software = unhex(args.software);
		device = unhex(args.device);
	};
	local ctx = { host = target.host; actor = M.actor(args); log = require "prosody.util.logger".init("camctl") };
	local report, condition, text = client_access.revoke(ctx, target.user, unhex(args.id), expect);
	if not report then
		return record_stream.fail(io, { err = condition, text = text, jid = target.jid });
	end
	M.record_event(target.host, target.user, "client-revoked", {
		client = report.id or unhex(args.id); actor = "admin socket";
		sessionClosed = report.session_closed; fastTokensRevoked = report.fast_tokens_revoked; grantRevoked = report.grant_revoked;
	});
	local sent = false;
	return record_stream.start(io, function ()
		if sent then return nil; end
		sent = true;
		return json_lines.revoke_report(report);
	end, { jid = target.jid });
end

-- Work per slice of a revoke_many request before it lets Prosody serve others (as the host scan,
-- host_scan.lua: two turns of the event loop between slices, one to read, one to flush).
M.SLICE_SECONDS = 0.02;

--- ARGS: { os_user, sudo_user }; ITEMS: an array of revoke's ARGS (jid, id, type, first_seen,
--- software, device), in plan order; ENV: the chunk's environment (finds the admin connection: the
--- run stops between slices once camctl has gone). Each item is checked, revoked and verified as revoke does
--- (client_access.revoke_many), in order, in slices of SLICE_SECONDS with the event loop turning
--- in between; each slice's reports are sent at its end, while the request is still running (a
--- promise, as the host scan). Records: one per item, in order: the revocation report
--- (json_lines.revoke_report), or {"id", "err", "text", "jid", "host"} for an item that failed
--- (revoke's trailer fields). Trailer meta: done = the number of items.
function M.revoke_many(args, items, env)
	local io = reply_io();
	-- camctl gone (Ctrl-C, --timeout, a lost link): the items not begun are not revoked.
	local admin = env and record_stream.admin_session(env);
	local now = require "prosody.util.time".now;
	local async = require "prosody.util.async";
	local actor = M.actor(args);
	local log = require "prosody.util.logger".init("camctl");
	local w = record_stream.open(io);
	local function failed(id, failure)
		w.line('{"id":' .. json_lines.str(id or "") .. ',"err":' .. json_lines.str(failure.err or "internal-server-error")
			.. ',"text":' .. (failure.text and json_lines.str(tostring(failure.text)) or "null")
			.. ',"jid":' .. (failure.jid and json_lines.str(failure.jid) or "null")
			.. ',"host":' .. (failure.host and json_lines.str(failure.host) or "null") .. "}");
	end
	return require "prosody.util.promise".new(function (resolve, reject)
		local function work()
			local i = 1;
			local started = now();
			local stop = function () return now() - started >= M.SLICE_SECONDS; end
			while i <= #items do
				if i > 1 and stop() then
					w.flush();
					async.sleep(0);
					async.sleep(0);
					if not record_stream.connected(admin) then
						log("info", "revocation of %d items stopped after %d: the admin connection is gone", #items, i - 1);
						break;
					end
					started = now();
				end
				-- The run of items of the same account from i on.
				local j = i;
				while j < #items and items[j + 1].jid == items[i].jid do j = j + 1; end
				local target, failure = account(unhex(items[i].jid));
				if not target then
					failed(unhex(items[i].id), failure);
					i = i + 1;
				else
					local wanted = {};
					for k = i, j do
						local a = items[k];
						wanted[#wanted + 1] = { id = unhex(a.id); expect = {
							type = unhex(a.type); first_seen = tonumber(unhex(a.first_seen)); software = unhex(a.software); device = unhex(a.device);
						} };
					end
					local ctx = { host = target.host; actor = actor; log = log };
					-- Stops within the account's run when the slice is over; the rest goes on after the break.
					local results = client_access.revoke_many(ctx, target.user, wanted, stop);
					for k, want in ipairs(wanted) do
						local r = results[k];
						if not r then break; end
						local report, condition, text = r[1], r[2], r[3];
						if report then
							M.record_event(target.host, target.user, "client-revoked", {
								client = report.id or want.id; actor = "admin socket";
								sessionClosed = report.session_closed; fastTokensRevoked = report.fast_tokens_revoked; grantRevoked = report.grant_revoked;
							});
							w.line(json_lines.revoke_report(report));
						else
							failed(want.id, { err = condition; text = text; jid = target.jid });
						end
						i = i + 1;
					end
				end
			end
			resolve(w.finish({ done = i - 1 }));
		end
		local runner = async.runner(work, {
			error = function (_, err) reject(tostring(err)); end;
		});
		runner:run(true);
	end);
end

return M;
