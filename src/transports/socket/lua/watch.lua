-- camctl watch over the admin socket: host_watch.lib.lua's watcher (shared with the companion
-- module), its records sent as NDJSON lines of a record stream (record_stream.open):
--   {"event": name, "time_ms": n, "account", "ip", "client", "software", "device", "mechanism", "detail"}
--   {"dropped": n, "time_ms": n}    the server dropped n events: the reader fell behind
--   {"heartbeat": n}                nothing happened for a while; the server is still there
-- after a first line {"watching": host, "queue": n} once the hooks are in place.
--
-- The chunk returns a promise that never resolves: Prosody's shell keeps the request open, and
-- the watcher ends with the admin connection (Prosody's "admin-disconnected" event for this
-- session, or the watcher's timer finding the connection gone). Its room: this connection's send
-- buffer below HIGH_WATER_BYTES (camctl reads slower than events come: they wait in the
-- watcher's queue, then are dropped and counted).
--
-- Values arrive hex-encoded in ARGS: host, queue (the queue's size), heartbeat (seconds).
--
-- Chunk arguments: json_lines, record_stream, host_scan (its admin_session, buffered, connected),
-- host_watch.
local json_lines, record_stream, host_scan, host_watch = ...;
local M = {};

M.HIGH_WATER_BYTES = 256 * 1024;

local function unhex(h)
	if h == nil then return nil; end
	return (h:gsub("%x%x", function (c) return string.char(tonumber(c, 16)); end));
end

--- ARGS: { host, queue, heartbeat }. Returns the failure trailer at once (host-not-found,
--- no-admin-session), or a promise that stays pending while camctl watches.
function M.start(args, env)
	local io = { print = print; base64 = require "prosody.util.encodings".base64.encode };
	local host = unhex(args.host);
	local host_session = prosody.hosts[host];
	if not host_session or not host_session.events then return record_stream.fail(io, record_stream.host_not_found(host)); end
	-- Without its own connection a watcher could not tell when to stop: refuse rather than leak.
	local admin = host_scan.admin_session(env);
	if not admin then return record_stream.fail(io, { err = "no-admin-session", host = host }); end
	-- The session's own sender: events go out as text pieces, without print's and the stanza
	-- serialiser's copies (record_stream.lua's send_piece), which a login storm pays per event.
	if type(admin.rawsend) == "function" then io.raw = admin.rawsend; end

	local out = record_stream.open(io, 64 * 1024);
	local queue = tonumber(unhex(args.queue));
	host_watch.watch(host, {
		queue_max = queue;
		heartbeat = tonumber(unhex(args.heartbeat));
		room = function () return host_scan.buffered(admin) < M.HIGH_WATER_BYTES; end;
		connected = function () return host_scan.connected(admin); end;
		send = function (r) out.line(json_lines.object(r)); end;
		flush = function () out.flush(); end;
		ends = { events = prosody.events; name = "admin-disconnected"; matches = function (e) return e.session == admin; end };
		log = require "prosody.util.logger".init("camctl");
	});
	-- The hooks are in place: events from now on are seen.
	out.line(json_lines.object({ watching = host, queue = queue or host_watch.QUEUE_MAX }));
	out.flush();
	return require "prosody.util.promise".new(function () end);
end

return M;
