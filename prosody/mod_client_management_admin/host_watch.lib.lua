-- host_watch: camctl watch's server side, shared by both transports: the admin socket's request
-- (src/transports/socket/lua/watch.lua sends this file as a chunk) and the companion module's
-- urn:camctl:admin:0 <watch/> for admins over XMPP (M.install, loaded with module:require).
--
-- A watcher hooks a virtual host's events and turns each into a record (M.describe):
--   { event, time_ms, account, ip, client, software, device, mechanism, detail } (absent: nil)
-- and hands records to its transport's send() only while the connection can take them (room()).
-- Nothing waits in a handler: a record goes into the watcher's own queue (at most queue_max);
-- when that is full, new records are dropped and counted, and { dropped = n, time_ms } is sent in
-- their place once there is room. So a slow reader never blocks the server, and never grows it.
-- While nothing happens, { heartbeat = time_ms } every `heartbeat` seconds says it is still there.
--
-- The hooks go when the connection goes, however it goes: on the transport's end event (the
-- admin socket's "admin-disconnected", a c2s session's "resource-unbind"), and, should that be
-- missed, on the next timer tick (every TICK_SECONDS), which finds the connection gone.
--
-- Chunk arguments: client_access (only M.install uses it; loaded with module:require there).
local client_access = ...;

local M = {};

M.QUEUE_MAX = 1000;
M.TICK_SECONDS = 0.1;
-- Before the handlers that may end an event (a handler returning a value stops it); ours return nothing.
M.PRIORITY = 1000000;

-- The host events a watcher hooks, and the global ones it hooks for its host only.
M.HOST_EVENTS = {
	"authentication-success", "authentication-failure", "client_management/new-client",
	"resource-bind", "resource-unbind", "camctl/client-revoked", "camctl/account-locked-out",
};
M.GLOBAL_EVENTS = { "user-disabled", "user-enabled", "user-password-changed" };

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
	local session = type(event.session) == "table" and event.session or {};
	local sasl = type(session.sasl_handler) == "table" and session.sasl_handler or {};
	local r = { ip = session.ip };
	if name == "authentication-success" then
		r.event = "login";
		r.account = account_of(session.username, host);
		r.client = client_id_of(session);
		r.software, r.device = agent_of(session);
		r.mechanism = sasl.selected;
		if sasl.fast_auth then r.detail = "fast"; end
	elseif name == "authentication-failure" then
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
		r.account = account_of(session.username, host);
		r.client = type(client.id) == "string" and ("client/" .. client.id) or nil;
		r.software, r.device = agent.software, agent.device;
		if client.legacy then r.detail = "legacy client (no SASL2 id, tracked by resource)"; end
	elseif name == "resource-bind" or name == "resource-unbind" then
		r.event = name == "resource-bind" and "session-started" or "session-ended";
		r.account = account_of(session.username, host);
		r.client = client_id_of(session);
		r.software, r.device = agent_of(session);
		r.detail = name == "resource-bind" and session.resource or text(event.error);
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
		r.detail = text(type(event.meta) == "table" and event.meta.reason or nil);
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

--- Starts a watcher of `host`. o = {
---   queue_max, heartbeat (seconds),
---   room() -> whether the connection can take more now,
---   connected() -> whether the connection is still there,
---   send(record) -> sends one record, or adds it to what flush() sends (may raise: the watcher then ends),
---   flush() -> optional: sends what send() gathered (one write for many records),
---   ends = { events, name, matches(event) } -> the event that says the connection is gone,
---   log(level, fmt, ...) }
--- Returns { stop(why) }.
function M.watch(host, o)
	local host_session = prosody.hosts[host];
	local timer = require "prosody.util.timer";
	local clock = require "prosody.util.time".now;
	local queue_max = math.floor(math.max(1, math.min(tonumber(o.queue_max) or M.QUEUE_MAX, 100000)));
	local heartbeat = math.max(0.05, math.min(tonumber(o.heartbeat) or 5, 60));

	local queue, head, tail = {}, 1, 0;
	local dropped, dropped_total, sent_at = 0, 0, clock();
	local stopped = false;
	local handlers = {};
	local w = {};

	local function ms() return math.floor(clock() * 1000); end

	--- Sends what waits while the connection can take it; a failure to send ends the watcher.
	local function pump()
		if stopped then return; end
		if not o.connected() then return w.stop("connection gone"); end
		local ok, err = pcall(function ()
			local any = false;
			while head <= tail and o.room() do
				local r = queue[head];
				queue[head] = nil;
				head = head + 1;
				o.send(r);
				any = true;
			end
			if head > tail then
				queue, head, tail = {}, 1, 0;
				if dropped > 0 and o.room() then
					o.send({ dropped = dropped, time_ms = ms() });
					dropped, any = 0, true;
				end
			end
			if any then
				sent_at = clock();
				if o.flush then o.flush(); end
			end
		end);
		if not ok then w.stop("sending failed: " .. tostring(err)); end
	end

	-- Events are sent on the loop's next turn, together: a write to the connection costs Prosody
	-- about 0.1 ms whatever its size (BENCHMARKS.md), and a burst (one login makes three or four
	-- events in one go) then costs one write. Prosody would not send them any sooner.
	local pump_due = false;
	local function pump_soon()
		if pump_due then return; end
		pump_due = true;
		timer.add_task(0, function ()
			pump_due = false;
			pump();
		end);
	end

	local function push(r)
		if stopped then return; end
		-- Full: what waits may be able to leave now (the connection drained since the last turn).
		if tail - head + 1 >= queue_max then pump(); end
		if stopped then return; end
		if tail - head + 1 >= queue_max then
			dropped, dropped_total = dropped + 1, dropped_total + 1;
			return;
		end
		if dropped > 0 then
			-- The drops happened here, before this record: say so in their place.
			tail = tail + 1;
			queue[tail] = { dropped = dropped, time_ms = ms() };
			dropped = 0;
		end
		tail = tail + 1;
		queue[tail] = r;
		pump_soon();
	end

	local function hook(events, name, handler, priority)
		events.add_handler(name, handler, priority);
		handlers[#handlers + 1] = { events = events, name = name, handler = handler };
	end

	local function on(name, events, global)
		hook(events, name, function (event)
			if stopped or (global and event.host ~= host) then return; end
			local ok, r = pcall(M.describe, name, event, host);
			if not ok then
				o.log("warn", "camctl watch: reading the %s event failed: %s", name, tostring(r));
			elseif r then
				r.time_ms = ms();
				push(r);
			end
		end, M.PRIORITY);
	end

	function w.stop(why)
		if stopped then return; end
		stopped = true;
		for _, h in ipairs(handlers) do pcall(h.events.remove_handler, h.name, h.handler); end
		handlers, queue = {}, {};
		o.log("debug", "camctl watch of %s ended (%s); %d events dropped in all", host, tostring(why), dropped_total);
	end

	-- First: the end of the connection stops the watcher before anything is sent to it.
	hook(o.ends.events, o.ends.name, function (event)
		if o.ends.matches(event) then w.stop("connection closed"); end
	end, M.PRIORITY + 1);
	for _, name in ipairs(M.HOST_EVENTS) do on(name, host_session.events, false); end
	for _, name in ipairs(M.GLOBAL_EVENTS) do on(name, prosody.events, true); end

	timer.add_task(M.TICK_SECONDS, function ()
		if stopped then return nil; end
		pump();
		if not stopped and head > tail and dropped == 0 and clock() - sent_at >= heartbeat and o.room() then
			sent_at = clock();
			local ok = pcall(function ()
				o.send({ heartbeat = ms() });
				if o.flush then o.flush(); end
			end);
			if not ok then w.stop("sending failed"); end
		end
		if stopped then return nil; end
		return M.TICK_SECONDS;
	end);
	return w;
end

--- The handlers a watcher hooks on `host`, counted (for camctl's tests and doctor).
function M.count_handlers(host)
	local n = 0;
	local function count(events, name)
		local list = events.get_handlers(name);
		n = n + (list and #list or 0);
	end
	for _, name in ipairs(M.HOST_EVENTS) do count(prosody.hosts[host].events, name); end
	for _, name in ipairs(M.GLOBAL_EVENTS) do count(prosody.events, name); end
	return n;
end

-- Over XMPP (the companion): an admin's session subscribes with
--   <iq type='set' to='example.com'><watch xmlns='urn:camctl:admin:0' queue='1000' heartbeat='5'/></iq>
-- and is answered <watching xmlns='urn:camctl:admin:0' queue='...'/>; then each record comes as
--   <message type='headline' from='example.com'><event xmlns='urn:camctl:admin:0' name='login'
--     time-ms='...' account='...' ip='...' client='...' software='...' device='...' mechanism='...' detail='...'/></message>
-- (<dropped count='n' time-ms='...'/>, <heartbeat time-ms='...'/> likewise; a message may carry up to
-- MESSAGE_EVENTS of them, in order), sent straight to that
-- session, until it ends (it unbinds, or its connection goes). Permission :watch-host (default
-- prosody:admin). The queue and the drops are the session's own, as on the admin socket.
M.HIGH_WATER_BYTES = 256 * 1024;
-- Events per pushed message, at most.
M.MESSAGE_EVENTS = 50;

function M.install()
	local st = require "prosody.util.stanza";
	client_access = client_access or module:require("client_access");
	local xml_text = client_access.xml_text;
	local xmlns_camctl = "urn:camctl:admin:0";
	module:default_permission("prosody:admin", ":watch-host");

	local function element(r)
		if r.heartbeat then return st.stanza("heartbeat", { xmlns = xmlns_camctl, ["time-ms"] = ("%d"):format(r.heartbeat) }); end
		if r.dropped then
			return st.stanza("dropped", { xmlns = xmlns_camctl, count = ("%d"):format(r.dropped), ["time-ms"] = ("%d"):format(r.time_ms) });
		end
		return st.stanza("event", {
			xmlns = xmlns_camctl; name = r.event; ["time-ms"] = ("%d"):format(r.time_ms);
			account = xml_text(r.account); ip = xml_text(r.ip); client = xml_text(r.client);
			software = xml_text(r.software); device = xml_text(r.device);
			mechanism = xml_text(r.mechanism); detail = xml_text(r.detail);
		});
	end

	module:hook("iq-set/host/" .. xmlns_camctl .. ":watch", function (event)
		local origin, stanza = event.origin, event.stanza;
		if not module:may(":watch-host", event) then
			module:log("warn", "%s may not watch %s", origin.full_jid or "?", module.host);
			origin.send(st.error_reply(stanza, "auth", "forbidden", "Watching this host's events needs the :watch-host permission (admins by default)"));
			return true;
		end
		if origin.type ~= "c2s" or not origin.full_jid then
			origin.send(st.error_reply(stanza, "cancel", "not-allowed", "Only a bound client session can watch"));
			return true;
		end
		local request = stanza.tags[1];
		local full_jid = origin.full_jid;
		local pending = {};
		local watcher = M.watch(module.host, {
			queue_max = tonumber(request.attr.queue);
			heartbeat = tonumber(request.attr.heartbeat);
			room = function ()
				local buffer = origin.conn and origin.conn.writebuffer;
				return not buffer or #buffer < M.HIGH_WATER_BYTES;
			end;
			connected = function () return origin.conn ~= nil and not origin.destroyed; end;
			-- Gathered, then one message per flush (at most MESSAGE_EVENTS each).
			send = function (r) pending[#pending + 1] = element(r); end;
			flush = function ()
				while pending[1] do
					local message = st.message({ type = "headline", from = module.host, to = full_jid });
					for i = 1, math.min(#pending, M.MESSAGE_EVENTS) do message:add_child(pending[i]); end
					pending = { table.unpack(pending, math.min(#pending, M.MESSAGE_EVENTS) + 1) };
					origin.send(message);
				end
			end;
			ends = { events = prosody.hosts[module.host].events; name = "resource-unbind";
				matches = function (e) return e.session == origin; end };
			log = function (...) return module:log(...); end;
		});
		module:log("info", "%s watches the events of %s", full_jid, module.host);
		origin.send(st.reply(stanza):tag("watching", { xmlns = xmlns_camctl, queue = ("%d"):format(tonumber(request.attr.queue) or M.QUEUE_MAX) }));
		return watcher and true;
	end);
end

return M;
