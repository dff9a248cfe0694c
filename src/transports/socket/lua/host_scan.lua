-- camctl's host-wide listing over the admin socket: every account's clients on a virtual host,
-- filtered in the server (client_filter.lua), sent batch by batch while the server keeps serving.
--
-- Prosody runs a `>` chunk inside the admin connection's handler and, when the chunk returns a
-- promise, sends the promise's value as the request's result once it resolves ("OK: ..."); `print`
-- sends a <repl-output> at once. So the chunk returns a promise at once and the scan runs in its
-- own util.async runner: it lists the usernames (usermanager.users), then reads accounts with
-- get_active_clients for a slice of time (SLICE_SECONDS), prints that batch's matching records and
-- a progress line, and sleeps on a timer (async.sleep(0)) so everything else Prosody has to do runs
-- in between. Before each piece it waits until Prosody has handed this connection's send buffer
-- to the kernel (camctl reads slower than the server finds, or Prosody has not written yet), and
-- it stops when the admin connection is gone (camctl interrupted, `| head` done, --timeout):
-- nothing keeps working for nobody.
--
-- The stream is record_stream.open's: NDJSON in pieces of at most PIECE_BYTES (128 KiB), then the trailer
-- { more = false, pieces, bytes, records, host, total, scanned, clients, failed } as the result,
-- so camctl knows the scan is complete and nothing was lost. Lines:
--   [account, client, facts]           a matching client (json_lines.client), account = user@host,
--                                      facts = { status, last_activity } of the account (account_status)
--   {"scanned": n, "total": m}         progress, after each batch (and once before the first)
--   {"failed": account, "error": text} an account whose clients could not be read (the scan goes on)
--
-- Values arrive hex-encoded in ARGS: host, and filter (camctl's filter as JSON, decoded with
-- util.json: data, never code).
--
-- Chunk arguments: client_access, json_lines, record_stream, client_filter, client_network
-- (optional: the companion's per-client login records), account_status.
local client_access, json_lines, record_stream, client_filter, client_network, account_status = ...;
local M = {};

-- Work per batch before yielding. A yield costs about 1 ms (the event loop's minimum wait), so
-- 20 ms keeps that overhead near 5 % while other clients wait at most about one slice.
M.SLICE_SECONDS = 0.02;
M.PIECE_BYTES = 128 * 1024;
-- A piece waits for an empty send buffer: a loop turn or two usually empties it (QUICK_TURNS);
-- a reader slower than that is looked at again every DRAIN_POLL_SECONDS. Why empty, not "below a
-- megabyte" as before: on each write event Prosody copies everything its buffer holds
-- (util.dbuffer's collapse and sub), and every byte allocated costs the garbage collector a
-- share of a pass over the whole heap (Prosody's default `gc` threshold, 105, starts a pass after
-- 5 % growth). A buffer kept near a megabyte made that the largest cost of a 40,000-client
-- account's scan (BENCHMARKS.md).
M.QUICK_TURNS = 2;
M.DRAIN_POLL_SECONDS = 0.005;

local function unhex(h)
	if h == nil then return nil; end
	return (h:gsub("%x%x", function (c) return string.char(tonumber(c, 16)); end));
end

-- The admin connection's session, its send buffer and whether camctl is still there
-- (record_stream.lua); shared with camctl watch (watch.lua).
M.admin_session, M.buffered, M.connected = record_stream.admin_session, record_stream.buffered, record_stream.connected;
local buffered, connected = record_stream.buffered, record_stream.connected;

--- ARGS: { host, filter }. Returns the failure trailer at once (host-not-found, module-not-loaded,
--- bad-filter), or a promise of the trailer of the whole scan.
function M.start(args, env)
	local io = { print = print; base64 = require "prosody.util.encodings".base64.encode };
	local host = unhex(args.host);
	local host_session = prosody.hosts[host];
	if not host_session then return record_stream.fail(io, record_stream.host_not_found(host)); end
	local cm = host_session.modules and host_session.modules.client_management;
	if type(cm) ~= "table" or type(cm.get_active_clients) ~= "function" then
		return record_stream.fail(io, { err = "module-not-loaded", host = host });
	end
	local decoded = require "prosody.util.json".decode(unhex(args.filter) or "{}");
	if type(decoded) ~= "table" then
		return record_stream.fail(io, { err = "bad-filter", host = host });
	end
	local filter = client_filter.compile(decoded);
	local activity_source = account_status.activity_source(host);
	if filter.account_inactive_since and not activity_source then
		return record_stream.fail(io, { err = "activity-not-recorded", host = host });
	end

	local async = require "prosody.util.async";
	local time = require "prosody.util.time";
	local clock = time.monotonic or time.now;
	local log = require "prosody.util.logger".init("camctl");
	local admin = M.admin_session(env);
	if admin and type(admin.rawsend) == "function" then io.raw = admin.rawsend; end

	return require "prosody.util.promise".new(function (resolve, reject)
		local gone = false;
		local function still_wanted()
			if not gone and not connected(admin) then gone = true; end
			return not gone;
		end
		-- Before each piece: let the connection drain before adding more.
		io.wait = function ()
			local turns = 0;
			while admin and buffered(admin) > 0 and still_wanted() do
				turns = turns + 1;
				async.sleep(turns <= M.QUICK_TURNS and 0 or M.DRAIN_POLL_SECONDS);
			end
		end
		-- Pieces smaller than the default: a piece's rows reach camctl at once, past its record
		-- queue's limit, so the piece size bounds camctl's rows in flight (BENCHMARKS.md).
		local out = record_stream.open(io, M.PIECE_BYTES);

		local function scan()
			local names = {};
			-- A generic for's iterator, state and control value (the storage's own iterator needs all three).
			local ok, users, state, control = pcall(require "prosody.core.usermanager".users, host);
			if not ok or type(users) ~= "function" then
				resolve(record_stream.fail(io, { err = "users-not-listed", host = host, text = not ok and tostring(users) or nil }));
				return;
			end
			for username in users, state, control do
				if type(username) == "string" and client_filter.account_matches(filter, username, host) then
					names[#names + 1] = username;
				end
			end
			table.sort(names);
			local total, scanned, matched, failed = #names, 0, 0, 0;
			-- One description table for every client, overwritten (client_access.describe's `into`);
			-- each row is written straight into the piece it travels in (record_stream's record).
			local described = { auth = {} };
			local function progress()
				out.line(json_lines.object({ scanned = scanned, total = total }));
				out.flush();
			end
			progress();
			local function stop()
				log("info", "host-wide listing of %s stopped after %d of %d accounts: the admin connection is gone", host, scanned, total);
			end
			local i = 0;
			while i < total do
				if not still_wanted() then return stop(); end
				local started = clock();
				repeat
					i = i + 1;
					local username = names[i];
					local jid = username .. "@" .. host;
					-- The account's own facts: read first when the filter needs them, else with its first match.
					-- A row is `[account,<client>,facts]`: the parts around the client, made once per account.
					local row_tail;
					local function facts()
						if not row_tail then
							local f = account_status.facts(host, username, activity_source);
							row_tail = "," .. json_lines.object({ status = f.status, last_activity = f.last_activity }) .. "]";
							return f;
						end
					end
					local wanted = true;
					if filter.account_inactive_since then
						wanted = client_filter.activity_matches(filter, facts().last_activity);
					end
					local got, clients, reason;
					if wanted then got, clients, reason = pcall(cm.get_active_clients, username); else got, clients = true, {}; end
					if not got or type(clients) ~= "table" then
						failed = failed + 1;
						local why = not got and tostring(clients) or tostring(reason or "no list");
						out.line(json_lines.object({ failed = jid, error = why }));
					else
						local row_head = "[" .. json_lines.str(jid) .. ",";
						local network = client_network and client_network.facts_for(host, username);
						for _, client in ipairs(clients) do
							if type(client) == "table" then
								local d = client_access.describe(client, described);
								if client_filter.client_matches(filter, d) then
									if client_network then client_network.annotate(d, client, network); end
									matched = matched + 1;
									facts();
									out.record(json_lines.client_into, d, row_head, row_tail);
								end
							end
						end
					end
					scanned = scanned + 1;
				until i >= total or clock() - started >= M.SLICE_SECONDS or gone
				progress();
				-- Twice: Prosody flushes what other sessions were sent during a slice only on the
				-- loop's next turn (opportunistic_writes is off by default), so one turn lets their
				-- replies leave before the next slice starts. Halves ping times during a scan at no
				-- cost to the scan (BENCHMARKS.md).
				async.sleep(0);
				async.sleep(0);
			end
			if not still_wanted() then return stop(); end
			resolve(out.finish({ host = host, total = total, scanned = scanned, clients = matched, failed = failed, activity_source = activity_source }));
		end

		local runner = async.runner(scan, {
			error = function (_, err)
				log("error", "host-wide listing of %s failed: %s", host, tostring(err));
				reject(tostring(err));
			end;
		});
		runner:run(true);
	end);
end

return M;
