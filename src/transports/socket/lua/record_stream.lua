-- Sends a stream of records to camctl over Prosody's admin socket, in bounded pieces.
--
-- A reply is zero or more <repl-output> pieces, each "base64:" + the base64 of at most PIECE_BYTES
-- of NDJSON text (one record per line; a record longer than a piece continues in the next) or,
-- where the stream has the session's own sender (M.open with io.raw), "text:" + that text as it
-- is when XML can carry it byte for byte (xml_safe; up to two pieces' worth of whole lines), then
-- the request's result, the trailer: "base64:" + base64 of a JSON object
--   { more, pieces, bytes, records, ...meta }
-- where `pieces` and `bytes` count what this reply carried and `records` the lines sent so far in
-- the whole stream, so camctl can tell a complete reply from one that lost something.
--
-- Why pieces: Prosody 13.0.1 silently drops the rest of a single write larger than its 4 MiB send
-- chunk, so one big result never arrives whole. Why a budget: the shell runs this in one go and
-- Prosody buffers everything it sends (up to 32 MiB per connection, then it disconnects), so a
-- reply carries at most about BUDGET_BYTES; when more remains the trailer says more=true and the
-- rest waits in this admin connection's own shell environment for camctl's next request
-- (stream_continue.lua). A host-wide scan, which answers later, sends its pieces as it goes
-- instead (M.open).
--
-- Chunk arguments: json_lines (json_lines.lua).
local json_lines = ...;
local M = {};

M.PIECE_BYTES = 512 * 1024;
M.BUDGET_BYTES = 8 * 1024 * 1024;

--- The failure trailer's meta for a host this server does not serve: with the virtual hosts it
--- does serve (sorted; the first HOSTS_SHOWN, space-separated, and how many there are), for
--- camctl's "not a host" sentence.
M.HOSTS_SHOWN = 5;
function M.host_not_found(host)
	local names = {};
	for name, h in pairs(prosody.hosts) do
		if h.type == "local" then names[#names + 1] = name; end
	end
	table.sort(names);
	return { err = "host-not-found", host = host, hosts = table.concat(names, " ", 1, math.min(#names, M.HOSTS_SHOWN)), host_count = #names };
end

--- The admin connection this chunk runs for: the session whose shell environment is `env` (the
--- `>` chunks' global environment is one per admin connection). nil when it cannot be found,
--- e.g. another Prosody version: a long request then runs to its end without flow control.
function M.admin_session(env)
	local ok, found = pcall(function ()
		local admin_socket = require "prosody.core.modulemanager".get_module("*", "admin_socket");
		local sessions = admin_socket and admin_socket.module:shared("sessions");
		for _, session in pairs(sessions or {}) do
			local shell = session.shell_session;
			if type(shell) == "table" and shell.globalenv == env then return session; end
		end
	end);
	return ok and found or nil;
end

--- Bytes waiting in the session's send buffer (0 when that cannot be seen).
function M.buffered(session)
	local ok, n = pcall(function ()
		local buffer = session.conn and session.conn.writebuffer;
		return buffer and #buffer or 0;
	end);
	return ok and tonumber(n) or 0;
end

--- Whether camctl is still connected (true when the session is unknown).
function M.connected(session)
	if not session then return true; end
	local shell = session.shell_session;
	if type(shell) == "table" and type(shell.is_connected) == "function" then return shell.is_connected(); end
	return session.conn ~= nil;
end

--- Whether text can go inside <repl-output> as it is, byte for byte: valid UTF-8 without the
--- characters XML 1.0 forbids (C0 controls, U+FFFE, U+FFFF, surrogates) or changes (tab and
--- carriage return are normalised by parsers), and without markup (<, >, &). json_lines writes
--- nothing else (it escapes all of these), so this only guards against other text: what fails
--- goes out as base64.
local function xml_safe(text)
	-- Printable ASCII other than < > &: the common case, one scan.
	if not text:find("[^\32-\36%%\39-\59=\63-\126\n]") then return true; end
	return utf8.len(text) ~= nil and not text:find("[\0-\9\11-\31<>&]")
		and not text:find("\239\191[\190\191]") and not text:find("\237[\160-\191]");
end

-- A piece sent as text (xml_safe) rather than base64: "text:" + the NDJSON itself.
local TEXT_OPEN, TEXT_CLOSE = "<repl-output>text:", "</repl-output>";

--- Sends one piece. When the caller found the admin connection's own sender (io.raw: the
--- session's rawsend), the <repl-output> element goes out as text, byte for byte what the
--- shell's print would send (base64 needs no XML escaping), without the four copies print and
--- the stanza serialiser make of it: each copied byte costs Prosody's collector (BENCHMARKS.md).
--- A piece that is xml_safe goes as text there, which saves base64's copy and its third more bytes.
local function send_piece(io, piece)
	if io.raw then
		if xml_safe(piece) then
			io.raw(TEXT_OPEN .. piece .. TEXT_CLOSE);
		else
			io.raw("<repl-output>base64:" .. io.base64(piece) .. "</repl-output>");
		end
	else
		io.print("base64:" .. io.base64(piece));
	end
end

local function trailer(io, fields)
	return "base64:" .. io.base64(json_lines.object(fields));
end

--- Sends as much of the stream as one reply may carry and returns the trailer.
function M.resume(stream)
	local io = stream.io;
	local piece_bytes, budget = stream.piece_bytes or M.PIECE_BYTES, stream.budget_bytes or M.BUDGET_BYTES;
	local pieces, bytes = 0, 0;
	-- Unsent text: text:sub(pos), then the lines in `lines` (joined only when a piece needs them,
	-- so a record of many megabytes is cut into pieces without being copied again for each).
	local text, pos = stream.pending or "", 1;
	local lines, lines_size = {}, 0;
	local function unsent() return #text - pos + 1 + lines_size; end
	local function join()
		if lines[1] then
			text, pos = text:sub(pos) .. table.concat(lines), 1;
			lines, lines_size = {}, 0;
		end
	end
	while true do
		if unsent() >= piece_bytes or (stream.finished and unsent() > 0) then
			if bytes >= budget then break; end
			join();
			local piece = text:sub(pos, pos + piece_bytes - 1);
			pos = pos + #piece;
			send_piece(io, piece);
			pieces, bytes = pieces + 1, bytes + #piece;
		elseif stream.finished then
			break;
		else
			local line = stream.next_line();
			if line == nil then
				stream.finished = true;
			else
				stream.records = stream.records + 1;
				lines[#lines + 1] = line;
				lines[#lines + 1] = "\n";
				lines_size = lines_size + #line + 1;
			end
		end
	end
	join();
	stream.pending = text:sub(pos);
	local more = not (stream.finished and stream.pending == "");
	-- The rest waits for stream_continue.lua; a global of the shell environment belongs to this
	-- admin connection only, and goes with it.
	camctl_record_stream = more and stream or nil;
	local fields = { more = more, pieces = pieces, bytes = bytes, records = stream.records };
	for k, v in pairs(stream.meta) do fields[k] = v; end
	return trailer(io, fields);
end

--- Starts a stream. io = { print = the shell's print, base64 = an encoder, raw = the admin
--- session's rawsend (optional, see send_piece) }; next_line() returns
--- the next record as one line of JSON (no line feed) or nil at the end; meta goes into every
--- trailer. Returns the first reply's trailer (the request's result).
function M.start(io, next_line, meta)
	return M.resume({ io = io, next_line = next_line, meta = meta or {}, records = 0, resume = M.resume });
end

--- A stream sent while it is produced, for a request that answers later (its chunk returns a
--- promise, whose value mod_admin_shell sends as the result when it resolves): each piece is
--- printed at once, so records reach camctl while the request is still running. Same pieces, same
--- trailer as above (in one reply: more is always false). io.wait, when given, is called before
--- each piece and may pause (e.g. until the connection's send buffer has drained), so a large
--- batch never piles up in Prosody's memory; before, not after, so a batch that ends with a
--- piece is not held up by it (the caller yields between batches anyway).
--- Returns { line(text), record(fill, ...), flush(), finish(meta) -> trailer, records, pieces, bytes }.
function M.open(io, piece_bytes)
	piece_bytes = piece_bytes or M.PIECE_BYTES;
	local w = { records = 0, pieces = 0, bytes = 0 };
	-- The pending text is parts[first .. count], `size` bytes. One table for the whole stream, its
	-- slots overwritten (a fresh table per piece is garbage too). With io.raw, parts[1] is the text
	-- piece's opening tag, so a piece of whole lines is made by the concatenation that joins them.
	local first = io.raw and 2 or 1;
	local parts, count, size = { TEXT_OPEN }, first - 1, 0;
	-- Whether a pending part may not be xml_safe (looked at only when io.raw sends text).
	local unsafe = false;
	-- Prints the pending text as pieces; with whole_only, what is shorter than a piece stays.
	local function send(whole_only)
		if size == 0 or (whole_only and size < piece_bytes) then return; end
		-- Whole lines, together at most two pieces' worth and all xml_safe: one text piece.
		if io.raw and not unsafe and size <= 2 * piece_bytes then
			parts[count + 1] = TEXT_CLOSE;
			if io.wait then io.wait(); end
			io.raw(table.concat(parts, "", 1, count + 1));
			w.pieces, w.bytes = w.pieces + 1, w.bytes + size;
			count, size = first - 1, 0;
			return;
		end
		local text, pos = table.concat(parts, "", first, count), 1;
		count, size, unsafe = first - 1, 0, false;
		while #text - pos + 1 >= piece_bytes or (not whole_only and pos <= #text) do
			-- The whole text when it fits: no copy.
			local piece = (pos == 1 and #text <= piece_bytes) and text or text:sub(pos, pos + piece_bytes - 1);
			pos = pos + #piece;
			if io.wait then io.wait(); end
			send_piece(io, piece);
			w.pieces, w.bytes = w.pieces + 1, w.bytes + #piece;
		end
		if pos <= #text then
			count = first;
			parts[count], size = text:sub(pos), #text - pos + 1;
			-- The rest of a cut line may start inside a character.
			unsafe = io.raw ~= nil and not xml_safe(parts[count]);
		end
	end
	--- One record: a line of JSON without its line feed.
	function w.line(text)
		w.records = w.records + 1;
		if io.raw and not unsafe and not xml_safe(text) then unsafe = true; end
		parts[count + 1], parts[count + 2] = text, "\n";
		count, size = count + 2, size + #text + 1;
		send(true);
	end
	--- One record written straight into the pending parts, never as a string of its own:
	--- fill(parts, n, ...) puts its pieces of text after index n and returns the last index used.
	--- Only for fills whose text is xml_safe by construction (json_lines.client_into).
	function w.record(fill, ...)
		w.records = w.records + 1;
		local n = fill(parts, count, ...);
		for i = count + 1, n do size = size + #parts[i]; end
		parts[n + 1] = "\n";
		count, size = n + 1, size + 1;
		send(true);
	end
	--- Sends everything pending now (the end of a batch).
	function w.flush()
		send(false);
	end
	--- Sends the rest; returns the trailer, the request's result.
	function w.finish(meta)
		send(false);
		local fields = { more = false, pieces = w.pieces, bytes = w.bytes, records = w.records };
		for k, v in pairs(meta or {}) do fields[k] = v; end
		return trailer(io, fields);
	end
	return w;
end

--- A reply with no records that says what went wrong, e.g. { err = "user-not-found", jid = ... }.
function M.fail(io, meta)
	camctl_record_stream = nil;
	local fields = { more = false, pieces = 0, bytes = 0, records = 0 };
	for k, v in pairs(meta) do fields[k] = v; end
	return trailer(io, fields);
end

return M;
