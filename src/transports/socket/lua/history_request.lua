-- `camctl user history` / `camctl host history` over Prosody's admin socket: the entries of
-- history_log.reader (mod_audit's archive and camctl's own store), answered as a record stream
-- (record_stream.lua), read lazily: a reply carries what its budget allows and the rest waits in
-- this connection's shell environment for camctl's next request.
--
-- Values from camctl's command line arrive hex-encoded in ARGS (see camctl's
-- src/transports/socket/lua.ts): a literal of [0-9a-f] cannot close its string.
--
-- Chunk arguments: admin_requests, history_log, json_lines, record_stream.
local admin_requests, history_log, json_lines, record_stream = ...;
local M = {};

M.HISTORY_BUDGET_BYTES = 1024 * 1024;

local function entry_line(r)
	return "[" .. json_lines.int(r.time) .. "," .. json_lines.str(r.account) .. "," .. json_lines.str(r.event)
		.. "," .. json_lines.str(r.recorded_by) .. "," .. json_lines.str(r.source) .. "," .. json_lines.str(r.ip)
		.. "," .. json_lines.str(r.location) .. "," .. json_lines.str(r.client) .. "," .. json_lines.object(r.detail or {}) .. "]";
end

--- ARGS: { host, jid (optional: one account), since, upto (decimal Unix seconds, inclusive, optional),
--- events (comma-separated names, optional) }. Records: first { sources = "mod_audit,camctl" },
--- then one array per entry: time, account, event, recorded_by, source, ip, location, client,
--- detail (object). Trailer meta: host; or err (invalid-jid, host-not-found, user-not-found,
--- no-history-source, internal-server-error) and text.
function M.history(args)
	local io = { print = print; base64 = require "prosody.util.encodings".base64.encode };
	local unhex = admin_requests.unhex;
	local host, with;
	if args.jid then
		local user, jid_host = require "prosody.util.jid".prepped_split(unhex(args.jid));
		if not user or not jid_host then return record_stream.fail(io, { err = "invalid-jid" }); end
		host, with = jid_host, user .. "@" .. jid_host;
	else
		host = require "prosody.util.encodings".stringprep.nameprep(unhex(args.host) or "");
		if not host then return record_stream.fail(io, { err = "invalid-jid" }); end
	end
	if not prosody.hosts[host] then return record_stream.fail(io, record_stream.host_not_found(host)); end
	local types;
	if args.events then
		types = {};
		for name in unhex(args.events):gmatch("[^,]+") do types[name] = true; end
	end
	local ok, next_entry, sources = pcall(history_log.reader, host, {
		with = with;
		start = tonumber(unhex(args.since));
		["end"] = tonumber(unhex(args.upto));
		types = types;
	});
	if not ok then
		return record_stream.fail(io, { err = "internal-server-error", text = tostring(next_entry), host = host });
	elseif not next_entry then
		return record_stream.fail(io, { err = sources, host = host, companion = history_log.companion_loaded(host) });
	end
	local header = json_lines.object({ sources = sources });
	-- Replies of about HISTORY_BUDGET_BYTES rather than record_stream's 8 MiB: the first entries
	-- reach camctl sooner and camctl holds less at a time; the round trips cost little.
	return record_stream.resume({ io = io; meta = { host = host }; records = 0; resume = record_stream.resume;
		budget_bytes = M.HISTORY_BUDGET_BYTES; next_line = function ()
		if header then
			local line = header;
			header = nil;
			return line;
		end
		local r = next_entry();
		return r and entry_line(r) or nil;
	end });
end

return M;
