-- history_admin: urn:camctl:admin:0 <history/>, the history of an account or of the whole host
-- for admins over XMPP (camctl user history / host history --jid admin@...), paged with XEP-0059.
-- The entries are history_log.reader's, the same reader camctl runs over the admin socket:
-- mod_audit's archive where mod_audit is loaded, and camctl's own store. README.md beside this
-- file has the protocol.
--
--   <iq type='get' to='example.com'>
--     <history xmlns='urn:camctl:admin:0' account='alice@example.com'>   (account: optional)
--       <since>2026-01-01T00:00:00Z</since> <until>...</until>               (optional, inclusive)
--       <event>authentication-failure</event> ...                            (optional, any number)
--       <set xmlns='http://jabber.org/protocol/rsm'><max>100</max><after>cursor</after></set>
--     </history></iq>
--   -> <history xmlns='urn:camctl:admin:0' complete='true|false' sources='mod_audit,camctl'>
--        <entry time='...' event='...' account='...' source='mod_audit' recorded-by='...' ip='...'
--               location='...' client='...'><detail name='sessionType'>c2s</detail>...</entry> ...
--        <set xmlns='http://jabber.org/protocol/rsm'><last>cursor</last></set></history>
--
-- Paging: the cursor (<last/>, given back as <after/>) is a position in each store (the second
-- of the last entry read and how many of that second were read), so a page is a position, stable
-- while entries are added. Each IQ does one page of work: at most so many entries, so many bytes
-- and so many milliseconds of reading, so a long search for rare entries goes on over several
-- (possibly empty) pages while the server keeps serving its users.
--
-- Permission (Prosody 13 roles): client_management_admin:read-history, default prosody:admin.

local st = require "prosody.util.stanza";
local rsm = require "prosody.util.rsm";
local jid_util = require "prosody.util.jid";
local time_now = require "prosody.util.time".now;
local client_access = module:require("client_access");
local history_log = module:require("history_log");
local xml_text, iso8601 = client_access.xml_text, client_access.iso8601;

local xmlns_camctl = "urn:camctl:admin:0";
local host = module.host;

local M = {};

M.DEFAULTS = { records = 250; bytes = 128 * 1024; ms = 100 };

-- The integer option `name` of the host, within [min, max]; `default` when unset or not a number.
local function option(name, default, min, max)
	local v = tonumber(module:get_option(name));
	if not v or v ~= v then return default; end
	v = math.floor(v);
	if v < min then return min; end
	if v > max then return max; end
	return v;
end

--- One record (history_log.describe) as <entry/>; every text made safe for XML.
function M.entry_element(r)
	local el = st.stanza("entry", {
		time = r.time and iso8601(r.time) or nil;
		event = xml_text(r.event);
		account = xml_text(r.account);
		source = r.source;
		["recorded-by"] = xml_text(r.recorded_by);
		ip = xml_text(r.ip);
		location = xml_text(r.location);
		client = xml_text(r.client);
	});
	local names = {};
	for k in pairs(r.detail or {}) do if type(k) == "string" then names[#names + 1] = k; end end
	table.sort(names);
	for _, k in ipairs(names) do el:text_tag("detail", xml_text(r.detail[k]), { name = xml_text(k) }); end
	return el;
end

local function forbidden(origin, stanza, actor, why, text)
	module:log("warn", "Refused to read the history of %s for %s: %s", host, actor, why);
	origin.send(st.error_reply(stanza, "auth", "forbidden", text));
	return true;
end

-- The event names of a query as one text (nil: every event).
function M.types_key(types)
	if not types then return "*"; end
	local names = {};
	for name in pairs(types) do names[#names + 1] = name; end
	table.sort(names);
	return table.concat(names, ",");
end

-- How long a requester's reader is kept between its pages.
local KEEP_SECONDS = 300;

function M.install()
	module:default_permission("prosody:admin", ":read-history");
	-- Per requesting session (weak keys: it goes with the session): the reader of its last page.
	local readers = setmetatable({}, { __mode = "k" });

	module:hook("iq-get/host/" .. xmlns_camctl .. ":history", function (event)
		local origin, stanza = event.origin, event.stanza;
		local request = stanza.tags[1];
		local actor = origin.full_jid or stanza.attr.from or "?";
		-- Only local accounts may ask; remote entities are never admins here.
		if origin.type ~= "c2s" or not origin.username or not prosody.hosts[origin.host] then
			return forbidden(origin, stanza, actor, "not a local account");
		end
		if not module:may(":read-history", event) then
			return forbidden(origin, stanza, actor, "not permitted by its role", "Reading the history needs an admin role");
		end

		local with;
		if request.attr.account then
			local user, account_host = jid_util.prepped_split(request.attr.account);
			if not user or account_host ~= host or jid_util.resource(request.attr.account) then
				origin.send(st.error_reply(stanza, "modify", "bad-request", "account is a bare JID of this host"));
				return true;
			end
			with = user .. "@" .. account_host;
		end
		local bounds = {};
		for _, name in ipairs({ "since", "until" }) do
			local text = request:get_child_text(name);
			if text ~= nil then
				bounds[name] = client_access.parse_iso8601(text);
				if not bounds[name] then
					origin.send(st.error_reply(stanza, "modify", "bad-request", name .. " is not a UTC time like 2026-11-01T10:00:00Z"));
					return true;
				end
			end
		end
		local types;
		for el in request:childtags("event") do
			types = types or {};
			types[el:get_text()] = true;
		end
		local set = rsm.get(request) or {};
		if set.before ~= nil then
			origin.send(st.error_reply(stanza, "modify", "bad-request", "Only paging forward (<after/>) is supported"));
			return true;
		end
		if set.max ~= nil and (set.max ~= set.max or set.max < 1 or set.max % 1 ~= 0) then
			origin.send(st.error_reply(stanza, "modify", "bad-request", "<max/> is a whole number above 0"));
			return true;
		end
		local resume;
		if set.after ~= nil and set.after ~= "" then
			resume = history_log.parse_position(set.after);
			if not resume then
				origin.send(st.error_reply(stanza, "modify", "bad-request", "<after/> is not a cursor this module gave"));
				return true;
			end
		end

		local page_records = option("client_management_admin_history_page_size", M.DEFAULTS.records, 1, 10000);
		local limits = {
			records = set.max and math.min(set.max, page_records) or page_records;
			bytes = option("client_management_admin_history_page_bytes", M.DEFAULTS.bytes, 1024, 4 * 1024 * 1024);
			seconds = option("client_management_admin_history_page_ms", M.DEFAULTS.ms, 1, 10000) / 1000;
		};
		-- The reader of this requester's last page, kept when this request goes on right where that
		-- one stopped (same query, its cursor): the stores are not searched again for every page.
		local key = table.concat({ with or "", tostring(bounds.since), tostring(bounds["until"]), M.types_key(types) }, "\0");
		local kept = readers[origin];
		readers[origin] = nil;
		local reader = kept and kept.key == key and resume and kept.cursor == set.after and time_now() - kept.made < KEEP_SECONDS and kept or nil;
		if not reader then
			reader = { key = key; made = time_now() };
			local ok, next_entry, sources, position = pcall(history_log.reader, host, {
				with = with; start = bounds.since; ["end"] = bounds["until"]; types = types; resume = resume;
				stop = function () return time_now() - reader.started >= limits.seconds; end;
			});
			if not ok then
				module:log("error", "%s asked for the history of %s: %s", actor, with or host, tostring(next_entry));
				origin.send(st.error_reply(stanza, "wait", "internal-server-error", "Reading the history failed"));
				return true;
			elseif not next_entry then
				-- Not while this module is loaded (its own store is a source), but said plainly all the same.
				origin.send(st.error_reply(stanza, "cancel", "item-not-found", "No history is kept on this host")
					:tag("no-history-source", { xmlns = xmlns_camctl }):up());
				return true;
			end
			reader.next_entry, reader.sources, reader.position = next_entry, sources, position;
		end
		reader.started = time_now();

		local answer = st.stanza("history", { xmlns = xmlns_camctl; sources = reader.sources });
		local count, bytes, complete = 0, 0, false;
		local position = reader.position;
		local cursor = position();
		local read_ok, read_err = pcall(function ()
			while true do
				local before = position();
				local r, why;
				if reader.pending then
					r, before, reader.pending = reader.pending.r, reader.pending.before, nil;
				else
					r, why = reader.next_entry();
				end
				if not r then
					complete = why ~= "paused";
					cursor = position();
					return;
				end
				local el = M.entry_element(r);
				local size = #tostring(el);
				if count >= limits.records or (count > 0 and (bytes + size > limits.bytes or time_now() - reader.started >= limits.seconds)) then
					cursor = before; -- this entry starts the next page
					reader.pending = { r = r; before = before };
					return;
				end
				answer:add_child(el);
				count, bytes = count + 1, bytes + size;
				cursor = position();
			end
		end);
		if not read_ok then
			module:log("error", "%s reading the history of %s: %s", actor, with or host, tostring(read_err));
			origin.send(st.error_reply(stanza, "wait", "internal-server-error", "Reading the history failed"));
			return true;
		end
		local text = history_log.format_position(cursor);
		if not complete then
			reader.cursor, reader.made = text, time_now();
			readers[origin] = reader;
		end
		answer.attr.complete = complete and "true" or "false";
		answer:add_child(rsm.generate({ last = text ~= "" and text or nil }));
		module:log(resume == nil and "info" or "debug", "Admin %s read the history of %s: %d entr%s%s",
			actor, with or host, count, count == 1 and "y" or "ies", complete and ", done" or "");
		origin.send(st.reply(stanza):add_child(answer));
		return true;
	end);
end

return M;
