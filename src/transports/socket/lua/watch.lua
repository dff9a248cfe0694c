-- camctl watch over the admin socket: a live stream of a virtual host's logins, failed logins,
-- new clients, sessions, revocations and lock-outs, as NDJSON records (record_stream.open).
--
-- The chunk returns a promise at once (Prosody's shell then keeps the request open) and hooks the
-- host's events. Each event becomes one line:
--   {"event": name, "time_ms": n, "account", "ip", "client", "software", "device", "mechanism", "detail"}
-- (absent values left out), and, when the stream was idle for a while, {"heartbeat": n} so camctl
-- knows the server is still there (its --timeout). Nothing waits in a handler: an event is put in
-- this watcher's own queue and sent when the connection can take it.
--
-- A slow reader never blocks the server: while this admin connection's send buffer holds more
-- than HIGH_WATER_BYTES, events wait in the queue; when the queue holds queue_max events, new ones
-- are dropped and counted, and {"dropped": n} is sent in their place once there is room again.
--
-- The hooks go when the connection goes, however it goes: on Prosody's "admin-disconnected"
-- event for this session, and, should that be missed, on the next tick of the timer (every
-- TICK_SECONDS), which finds the connection gone. Nothing stays behind for nobody.
--
-- Values arrive hex-encoded in ARGS: host, queue (the queue's size), heartbeat (seconds).
--
-- Chunk arguments: json_lines, record_stream, host_scan (its admin_session, buffered, connected).
local json_lines, record_stream, host_scan = ...;
local M = {};

M.QUEUE_MAX = 1000;
M.HIGH_WATER_BYTES = 256 * 1024;
M.HEARTBEAT_SECONDS = 5;
M.TICK_SECONDS = 0.1;
-- Before the handlers that may end an event (a handler returning a value stops it); ours return nothing.
M.PRIORITY = 1000000;

-- The host events and what each becomes (see docs/watch.md for the names camctl prints).
M.HOST_EVENTS = {
	"authentication-success", "authentication-failure", "client_management/new-client",
	"resource-bind", "resource-unbind", "camctl/client-revoked", "camctl/account-locked-out",
};
-- Global events, for this host only.
M.GLOBAL_EVENTS = { "user-disabled", "user-enabled", "user-password-changed" };

local function unhex(h)
	if h == nil then return nil; end
	return (h:gsub("%x%x", function (c) return string.char(tonumber(c, 16)); end));
end

local function text(v)
	if type(v) == "string" then return v; end
	if type(v) == "table" then
		-- util.error objects and stanza errors: condition and text.
		local c, t = v.condition, v.text;
		if type(c) == "string" then return type(t) == "string" and (c .. ": " .. t) or c; end
	end
	return nil;
end

local function account_of(username, host)
	return type(username) == "string" and (username .. "@" .. host) or nil;
end

local function agent_of(session)
	local sasl = type(session) == "table" and session.sasl_handler;
	local agent = type(sasl) == "table" and sasl.user_agent;
	if type(agent) ~= "table" then return nil, nil; end
	return agent.software, agent.device;
end

local function client_id_of(session)
	local id = type(session) == "table" and session.client_id;
	return type(id) == "string" and ("client/" .. id) or nil;
end

--- What an event says, as the fields of its record (nil: not one camctl reports).
function M.describe(name, event, host)
	local session = type(event.session) == "table" and event.session or nil;
	local r = { ip = session and session.ip or nil };
	if name == "authentication-success" then
		local sasl = type(session.sasl_handler) == "table" and session.sasl_handler or {};
		r.event = "login";
		r.account = account_of(session.username, host);
		r.client = client_id_of(session);
		r.software, r.device = agent_of(session);
		r.mechanism = sasl.selected;
		if sasl.fast_auth then r.detail = "fast"; end
	elseif name == "authentication-failure" then
		local sasl = type(session.sasl_handler) == "table" and session.sasl_handler or {};
		r.event = "login-failed";
		-- The name the client tried (anything at all: camctl shows it safely).
		r.account = account_of(sasl.username, host);
		r.client = client_id_of(session);
		r.software, r.device = agent_of(session);
		r.mechanism = sasl.selected;
		local condition = text(event.condition) or text(event.message) or text(event.error);
		local why = text(event.text) or text(event.error_text);
		r.detail = condition and why and (condition .. ": " .. why) or condition or why;
	elseif name == "client_management/new-client" then
		local client = type(event.client) == "table" and event.client or {};
		local agent = type(client.user_agent) == "table" and client.user_agent or {};
		r.event = "new-client";
		r.account = account_of(session and session.username, host);
		r.client = type(client.id) == "string" and ("client/" .. client.id) or nil;
		r.software, r.device = agent.software, agent.device;
		if client.legacy then r.detail = "legacy client (no SASL2 id, tracked by resource)"; end
	elseif name == "resource-bind" then
		r.event = "session-started";
		r.account = account_of(session.username, host);
		r.client = client_id_of(session);
		r.software, r.device = agent_of(session);
		r.detail = session.resource;
	elseif name == "resource-unbind" then
		r.event = "session-ended";
		r.account = account_of(session.username, host);
		r.client = client_id_of(session);
		r.software, r.device = agent_of(session);
		r.detail = text(event.error);
	elseif name == "camctl/client-revoked" then
		r.event = "revoked";
		r.account = account_of(event.username, host);
		r.client = event.id;
		r.detail = event.detail;
	elseif name == "camctl/account-locked-out" then
		r.event = "locked-out";
		r.account = account_of(event.username, host);
		r.detail = event.detail;
	elseif name == "user-disabled" then
		r.event = "account-disabled";
		r.account = account_of(event.username, host);
		local meta = type(event.meta) == "table" and event.meta or {};
		r.detail = text(meta.reason);
	elseif name == "user-enabled" then
		r.event = "account-enabled";
		r.account = account_of(event.username, host);
	elseif name == "user-password-changed" then
		r.event = "password-changed";
		r.account = account_of(event.username, host);
	else
		return nil;
	end
	return r;
end

--- The handlers of `name` on `events` (util.events), for the tests' count.
function M.count_handlers(events, name)
	local n = 0;
	for _ in pairs(events.get_handlers and events.get_handlers(name) or {}) do n = n + 1; end
	return n;
end

--- ARGS: { host, queue, heartbeat }. Returns the failure trailer at once (host-not-found,
--- no-admin-session), or a promise that stays pending while camctl watches.
function M.start(args, env)
	local io = { print = print; base64 = require "prosody.util.encodings".base64.encode };
	local host = unhex(args.host);
	local host_session = prosody.hosts[host];
	if not host_session or not host_session.events then return record_stream.fail(io, { err = "host-not-found", host = host }); end
	-- Without its own connection a watcher could not tell when to stop: refuse rather than leak.
	local admin = host_scan.admin_session(env);
	if not admin then return record_stream.fail(io, { err = "no-admin-session", host = host }); end
	local queue_max = math.floor(math.max(1, math.min(tonumber(unhex(args.queue)) or M.QUEUE_MAX, 100000)));
	local heartbeat = math.max(0.05, math.min(tonumber(unhex(args.heartbeat)) or M.HEARTBEAT_SECONDS, 60));

	local timer = require "prosody.util.timer";
	local clock = require "prosody.util.time".now;
	local log = require "prosody.util.logger".init("camctl");
	local out = record_stream.open(io, 64 * 1024);

	local queue, head, tail = {}, 1, 0;
	local dropped, dropped_total, sent_at = 0, 0, clock();
	local stopped = false;
	local handlers = {};

	local function ms() return math.floor(clock() * 1000); end
	local function room() return host_scan.buffered(admin) < M.HIGH_WATER_BYTES; end

	-- Sends what waits while the connection can take it; a failure to send ends the watcher.
	local stop;
	local function pump()
		if stopped then return; end
		if not host_scan.connected(admin) then return stop("connection gone"); end
		local ok, err = pcall(function ()
			while head <= tail and room() do
				out.line(queue[head]);
				queue[head] = nil;
				head = head + 1;
				out.flush();
				sent_at = clock();
			end
			if head > tail then
				queue, head, tail = {}, 1, 0;
				if dropped > 0 and room() then
					out.line(json_lines.object({ dropped = dropped, time_ms = ms() }));
					out.flush();
					dropped, sent_at = 0, clock();
				end
			end
		end);
		if not ok then stop("sending failed: " .. tostring(err)); end
	end

	local function push(line)
		if stopped then return; end
		if tail - head + 1 >= queue_max then
			dropped, dropped_total = dropped + 1, dropped_total + 1;
			return;
		end
		if dropped > 0 then
			-- The drops happened here, before this event: say so in their place.
			tail = tail + 1;
			queue[tail] = json_lines.object({ dropped = dropped, time_ms = ms() });
			dropped = 0;
		end
		tail = tail + 1;
		queue[tail] = line;
		pump();
	end

	local function on(name, events, global)
		local function handler(event)
			if stopped then return; end
			if global and event.host ~= host then return; end
			local ok, r = pcall(M.describe, name, event, host);
			if not ok then
				log("warn", "camctl watch: reading the %s event failed: %s", name, tostring(r));
				return;
			end
			if r then
				r.time_ms = ms();
				push(json_lines.object(r));
			end
		end
		events.add_handler(name, handler, M.PRIORITY);
		handlers[#handlers + 1] = { events = events, name = name, handler = handler };
	end

	local function on_disconnect(event)
		if event.session == admin then stop("connection closed"); end
	end

	function stop(why)
		if stopped then return; end
		stopped = true;
		for _, h in ipairs(handlers) do pcall(h.events.remove_handler, h.name, h.handler); end
		handlers = {};
		pcall(prosody.events.remove_handler, "admin-disconnected", on_disconnect);
		queue = {};
		log("debug", "camctl watch of %s ended (%s); %d events dropped in all", host, why, dropped_total);
	end

	for _, name in ipairs(M.HOST_EVENTS) do on(name, host_session.events, false); end
	for _, name in ipairs(M.GLOBAL_EVENTS) do on(name, prosody.events, true); end
	prosody.events.add_handler("admin-disconnected", on_disconnect);

	timer.add_task(M.TICK_SECONDS, function ()
		if stopped then return nil; end
		if not host_scan.connected(admin) then stop("connection gone"); return nil; end
		pump();
		if not stopped and head > tail and dropped == 0 and clock() - sent_at >= heartbeat and room() then
			local ok = pcall(function ()
				out.line(json_lines.object({ heartbeat = ms() }));
				out.flush();
			end);
			sent_at = clock();
			if not ok then stop("sending failed"); end
		end
		if stopped then return nil; end
		return M.TICK_SECONDS;
	end);

	-- The first line: camctl knows the hooks are in place (and events from now on are seen).
	out.line(json_lines.object({ watching = host, queue = queue_max }));
	out.flush();
	-- Pending for as long as camctl watches: the watcher ends with the connection.
	return require "prosody.util.promise".new(function () end);
end

return M;
