-- history_log: camctl's own events in an account's history, and the history read back.
--
-- Written for the admin socket (camctl sends this file, see src/transports/socket/lua.ts) and
-- usable by mod_client_management_admin (module:require("history_log")): only globals both
-- environments have, Prosody's libraries loaded inside the functions.
--
-- Where camctl's events go (client-revoked, account-locked-out):
--   * mod_audit loaded (it is a global module): through its public API, the `audit` method it
--     adds to every module (core.moduleapi), into the host's archive store "audit", like any other
--     audit event. The caller's module names the source ("mod_" .. name); the admin socket has no
--     module, so camctl passes one named "camctl": the entry's source is "mod_camctl".
--   * otherwise: camctl's own archive store STORE ("camctl_history") on the host, entries in the
--     same shape (<audit-event type source user> with `with` = the account's JID), kept for
--     EXPIRES_AFTER (mod_audit's default), pruned when an entry is written, at most once per
--     PRUNE_EVERY seconds per host: a prune reads and rewrites the whole store (internal storage),
--     so pruning on every write made a bulk revocation quadratic (BENCHMARKS.md, host revoke).
-- The details travel as the attributes of one <camctl xmlns=NS/> child (strings).
--
-- What is read back: mod_audit's archive (where mod_audit is loaded) and camctl's store (where
-- mod_client_management_admin is loaded or the store holds anything), merged by time.
local M = {};

M.STORE = "camctl_history";
M.NS = "urn:x-camctl:history:0";
M.NS_AUDIT = "xmpp:prosody.im/audit";
M.EXPIRES_AFTER = 28 * 86400;
M.PRUNE_EVERY = 3600;
-- When this copy of the library last pruned each host's store (the admin socket keeps one copy
-- per connection, the companion one per host).
local last_pruned = {};

--- Whether mod_audit is loaded (globally: it is a global module) and offers its API.
function M.audit_loaded()
	local ok, loaded = pcall(function ()
		return require "prosody.core.modulemanager".is_loaded("*", "audit")
			and type(require "prosody.core.moduleapi".audit) == "function";
	end);
	return ok and loaded or false;
end

--- Whether the companion module is loaded on `host`.
function M.companion_loaded(host)
	return require "prosody.core.modulemanager".is_loaded(host, "client_management_admin") and true or false;
end

local function detail_element(detail)
	local st = require "prosody.util.stanza";
	local attr = { xmlns = M.NS };
	for k, v in pairs(detail) do
		if v ~= nil then attr[k] = tostring(v); end
	end
	return st.stanza("camctl", attr);
end

--- Records one of camctl's events for username@host. detail: flat table (values become strings).
--- calling_module: the module whose name the source carries (nil: "camctl"). Returns where it
--- went ("mod_audit" or "camctl"), or nil and the error. Never raises.
function M.record(host, username, event_type, detail, calling_module)
	local account = username .. "@" .. host;
	local ok, where, err = pcall(function ()
		local el = detail_element(detail or {});
		if M.audit_loaded() then
			local mod = calling_module or { host = host; get_name = function () return "camctl"; end };
			require "prosody.core.moduleapi".audit(mod, account, event_type, { custom = { el } });
			return "mod_audit";
		end
		local st = require "prosody.util.stanza";
		local source = calling_module and ("mod_" .. calling_module:get_name()) or "mod_camctl";
		local entry = st.stanza("audit-event", { type = event_type; source = source; user = account }):add_child(el);
		local store = require "prosody.core.storagemanager".open(host, M.STORE, "archive");
		local now = os.time();
		local id, append_err = store:append(nil, nil, entry, now, account);
		if not id then return nil, tostring(append_err); end
		if not last_pruned[host] or now - last_pruned[host] >= M.PRUNE_EVERY then
			last_pruned[host] = now;
			store:delete(nil, { ["end"] = now - M.EXPIRES_AFTER });
		end
		return "camctl";
	end);
	if not ok then return nil, tostring(where); end
	return where, err;
end

-- The entry's <session xmlns='xmpp:prosody.im/audit'/>, or nil.
local function session_of(item)
	for child in item:childtags("session", M.NS_AUDIT) do return child; end
	return nil;
end

--- One stored entry as a record: { time, account, event, recorded_by, source, ip, location,
--- client, detail }. client is the raw SASL2 id (mod_audit) or camctl's selector ("client/...").
function M.describe(item, when, with, source)
	local r = {
		time = tonumber(when) and math.floor(tonumber(when)) or nil;
		account = (type(with) == "string" and with ~= "@") and with or nil;
		source = source;
		detail = {};
	};
	if type(item) ~= "table" or type(item.attr) ~= "table" then return r; end
	r.event = item.attr.type;
	r.recorded_by = item.attr.source;
	local session = session_of(item);
	if session then
		r.ip = session:get_child_text("remote-ip");
		local location = session:get_child("location");
		if location then
			r.location = location.attr.country or location:get_text();
		end
		local client = session:get_child_text("client");
		if client then r.client = "client/" .. client; end
		r.detail.sessionType = session.attr.type;
	end
	for _, child in ipairs(item.tags or {}) do
		if child ~= session then
			for k, v in pairs(child.attr) do
				if k ~= "xmlns" and type(k) == "string" and type(v) == "string" then
					if child.attr.xmlns == M.NS and k == "client" then r.client = v; else r.detail[k] = v; end
				end
			end
			local text = child:get_child_text("comment");
			if text then r.detail.comment = text; end
		end
	end
	return r;
end

--- A reader of the history of `host` (and of one account with query.with): a function returning
--- the next record (M.describe) in time order, or nil at the end. query: { with, start, ["end"],
--- types = set of event names or nil, resume = a position (below) to continue from or nil,
--- stop = function returning true to pause or nil }. Returns nil and "no-history-source" where no
--- source is present; the second value lists the sources read; the third, position(), says where
--- the reader is: { [source name] = { time = whole second, skip = entries of that second read } },
--- what `resume` takes to go on right after the last entry read (returned or passed over).
--- With query.stop, the reader asks it every 64 entries it passes over and, when it says true,
--- returns nil, "paused": position() then holds what it passed over. The positions are times, not
--- archive ids: a query by time is a search on every store, one by id a scan on some (Prosody's
--- internal store).
function M.reader(host, query)
	local storagemanager = require "prosody.core.storagemanager";
	local floor = math.floor;
	local sources, names = {}, {};
	local function add(name, store_name)
		local store = storagemanager.open(host, store_name, "archive");
		local from = query.resume and query.resume[name];
		local start = query.start;
		if from and (not start or from.time > start) then start = from.time; end
		-- Prosody 13.0.1's internal archive finds `start` by a binary search that stops at ANY entry
		-- of that very second, skipping the ones of the same second before it: ask from a second
		-- earlier and drop what is too early here.
		local iter, err = store:find(nil, { with = query.with; start = start and start - 1; ["end"] = query["end"] });
		if not iter then error(name .. ": " .. tostring(err)); end
		sources[#sources + 1] = {
			name = name; iter = iter; min = start;
			at = from and from.time or nil; count = from and from.skip or 0; -- the position
			resume_at = from and from.time; resume_skip = from and from.skip or 0;
		};
		names[#names + 1] = name;
	end
	if M.audit_loaded() then add("mod_audit", "audit"); end
	local own = storagemanager.open(host, M.STORE, "archive");
	local has_own = M.companion_loaded(host);
	if not has_own then
		local iter = own:find(nil, { limit = 1 });
		has_own = iter ~= nil and iter() ~= nil;
	end
	if has_own then add("camctl", M.STORE); end
	if #sources == 0 then return nil, "no-history-source"; end
	-- Each source's next entry (what a resumed position has read already is dropped), then a
	-- merge by time (ties: the order of `sources`).
	local function advance(s)
		while true do
			local _, item, when, with = s.iter();
			if item == nil then s.head = nil; return; end
			local second = floor(tonumber(when) or 0);
			if s.min and second < s.min then
				-- too early (the second asked for in addition, see above)
			elseif s.resume_at and second == s.resume_at and s.resume_skip > 0 then
				s.resume_skip = s.resume_skip - 1;
			else
				s.head, s.head_second = M.describe(item, when, with, s.name), second;
				return;
			end
		end
	end
	local function consume(s)
		if s.at == s.head_second then s.count = s.count + 1; else s.at, s.count = s.head_second, 1; end
		advance(s);
	end
	for _, s in ipairs(sources) do advance(s); end
	local function position()
		local p = {};
		for _, s in ipairs(sources) do
			if s.at then p[s.name] = { time = s.at; skip = s.count }; end
		end
		return p;
	end
	local passed = 0;
	return function ()
		while true do
			local best;
			for _, s in ipairs(sources) do
				if s.head and (not best or (s.head.time or 0) < (best.head.time or 0)) then best = s; end
			end
			if not best then return nil; end
			local r = best.head;
			consume(best);
			if (not query.types or query.types[r.event or ""]) and not (query.start and (r.time or 0) < query.start) then return r; end
			passed = passed + 1;
			if query.stop and passed % 64 == 0 and query.stop() then return nil, "paused"; end
		end
	end, table.concat(names, ","), position;
end

--- A position (M.reader's position()) as text, for a cursor: "<source>:<time>:<skip>" joined by
--- ","; and back (nil for text that is not one).
function M.format_position(p)
	local parts = {};
	for name, at in pairs(p) do parts[#parts + 1] = string.format("%s:%d:%d", name, at.time, at.skip); end
	table.sort(parts);
	return table.concat(parts, ",");
end

function M.parse_position(text)
	if type(text) ~= "string" or #text > 200 then return nil; end
	local p = {};
	for part in text:gmatch("[^,]+") do
		local name, t, n = part:match("^([%w_]+):(%-?%d+):(%d+)$");
		if not name or (name ~= "mod_audit" and name ~= "camctl") then return nil; end
		p[name] = { time = tonumber(t); skip = tonumber(n) };
	end
	return p;
end

return M;
