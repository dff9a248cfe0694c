-- host_clients: the companion's host-wide listing (urn:camctl:admin:0 <clients host-wide='true'/>,
-- paged with XEP-0059 Result Set Management). README.md beside this file has the protocol.
--
-- Paging is by account: accounts in byte order of their localparts, the cursor (<after/>, <last/>)
-- is the last account a page finished, so a page is a position, stable whatever accounts and
-- clients come and go between pages. An account whose clients alone exceed a page is split, its
-- clients in id order, with the cursor "<localpart>/<last id sent>" (a localpart never holds "/").
-- Each IQ does one page of work and no more: at most so many records, so many bytes, so many
-- accounts read and so many milliseconds, so a live server keeps serving its users between pages.
--
-- Loaded with module:require("host_clients") by mod_client_management_admin (which passes what
-- the handler needs to M.handler); the paging itself (M.page) is plain Lua, tested by camctl in a
-- plain interpreter with its chunk arguments given.

local client_access, client_filter, account_status = ...;
if not client_access then client_access = module:require("client_access"); end
if not client_filter then client_filter = module:require("client_filter"); end
if not account_status and module then account_status = module:require("account_status"); end

local M = {};

local xmlns_camctl = "urn:camctl:admin:0";
local xmlns_rsm = "http://jabber.org/protocol/rsm";

-- Per page, unless the host's config says otherwise (client_management_admin_page_*). Bytes stay
-- far below Prosody's stanza size limits (c2s_stanza_size_limit is 256 KiB in Prosody 13, for
-- what a server accepts; clients have limits of their own).
M.DEFAULTS = {
	records = 100; -- and the most a requester's <max/> gets
	bytes = 64 * 1024;
	accounts = 200; -- get_active_clients calls
	ms = 20; -- of work, after the first account
};

-- How long a requester's snapshot of the account list is kept while no page asks for it, unless
-- the host's client_management_admin_snapshot_seconds says otherwise.
local SNAPSHOT_SECONDS = 300;

-- The characters util.stanza's serialiser escapes; none grows by more than 5 bytes (&apos;).
local function escaped_size(s)
	if not s:find("[&<>'\"]") then return #s; end
	local _, n = s:gsub("[&<>'\"]", "");
	return #s + 5 * n;
end

--- At least #tostring(el) for a util.stanza element, and close to it (a childless element is
--- counted with its closing tag): for a page's byte budget without serialising every record twice
--- (BENCHMARKS.md, "The XMPP listing with the real module").
function M.xml_size(el)
	local n = 2 * #el.name + 5; -- <name>...</name>
	for k, v in pairs(el.attr) do
		n = n + #k + 4 + escaped_size(v); -- ' k='v''
		-- A namespaced attribute ("uri\1name") brings a declaration of its prefix.
		if k:find("\1", 1, true) then n = n + #k + 16; end
	end
	for _, child in ipairs(el) do
		n = n + (type(child) == "string" and escaped_size(child) or M.xml_size(child));
	end
	return n;
end

--- Parses a cursor: "<localpart>" or "<localpart>/<client id>"; nil for none.
function M.parse_cursor(text)
	if text == nil or text == "" then return nil; end
	local user, id = text:match("^([^/]*)/(.*)$");
	if user then return { user = user; id = id }; end
	return { user = text };
end

-- First index in the sorted array whose value is > key (or >= key when inclusive).
local function search(sorted, key, inclusive)
	local lo, hi = 1, #sorted + 1;
	while lo < hi do
		local mid = (lo + hi) // 2;
		local v = sorted[mid];
		if v < key or (not inclusive and v == key) then lo = mid + 1; else hi = mid; end
	end
	return lo;
end

--- One page of a scan.
---   accounts  sorted array of localparts (the scan's accounts: those the account glob admits)
---   cursor    parse_cursor's result, { index = 0-based account index } to start there, or nil
---             to start at the beginning
---   limits    { records, bytes, accounts, seconds, stop = optional 0-based index the page stops
---             before (a range of the snapshot; the page is complete only at the last account) }
---   read(localpart) -> array of rows { id = client id, size = bytes, ... } in the order to send
---                      them (the account's matching clients), or nil and why it could not be read
---   clock()   seconds
--- Returns { rows = { { user = localpart, row = row }, ... }, failed = { { user =, reason = } },
--- first_index (0-based) and first (the first account the page covered) or nil, last (the cursor
--- for the next page) or nil, scanned (accounts finished so far), complete }. An account that
--- cannot be read is reported in `failed` and the scan goes on.
function M.page(accounts, cursor, limits, read, clock)
	local start;
	if cursor and cursor.index then start = cursor.index + 1;
	else start = cursor and search(accounts, cursor.user, cursor.id ~= nil) or 1; end
	local stop = limits.stop and math.min(limits.stop, #accounts) or #accounts;
	local out = { rows = {}; failed = {}; scanned = start - 1; complete = false };
	local bytes, reads, started = 0, 0, clock();
	local i = start;
	while i <= stop do
		if reads >= limits.accounts or (reads > 0 and clock() - started >= limits.seconds) then break; end
		local user = accounts[i];
		local rows, reason = read(user);
		if not rows then
			out.failed[#out.failed + 1] = { user = user; reason = tostring(reason) };
			rows = {};
		end
		reads = reads + 1;
		if reads == 1 then out.first, out.first_index = user, i - 1; end
		-- Continuing an account split by the previous page: only the ids after the cursor's.
		local after_id = cursor and cursor.id and cursor.user == user and cursor.id or nil;
		local left, left_bytes = {}, 0;
		for _, row in ipairs(rows) do
			if after_id == nil or row.id > after_id then
				left[#left + 1] = row;
				left_bytes = left_bytes + row.size;
			end
		end
		if #out.rows + #left <= limits.records and bytes + left_bytes <= limits.bytes then
			for _, row in ipairs(left) do out.rows[#out.rows + 1] = { user = user; row = row }; end
			bytes = bytes + left_bytes;
			out.last, out.scanned = user, i;
			i = i + 1;
		elseif #out.rows > 0 then
			-- The page holds records already: this account starts the next one.
			break;
		else
			-- The account alone exceeds a page: the longest run of its clients in id order that fits
			-- (at least one, however big), sent in the account's own order.
			local by_id = {};
			for k, row in ipairs(left) do by_id[k] = row; end
			table.sort(by_id, function (a, b) return a.id < b.id; end);
			local take, taken_bytes = {}, 0;
			for _, row in ipairs(by_id) do
				if #take > 0 and (#take + 1 > limits.records or taken_bytes + row.size > limits.bytes) then break; end
				take[row] = true;
				take[#take + 1] = row;
				taken_bytes = taken_bytes + row.size;
			end
			for _, row in ipairs(left) do
				if take[row] then out.rows[#out.rows + 1] = { user = user; row = row }; end
			end
			out.last = user .. "/" .. take[#take].id;
			break;
		end
	end
	out.complete = i > #accounts;
	return out;
end

-- The integer option `name` of the host, within [min, max]; `default` when unset or not a number.
local function option(module, name, default, min, max)
	local v = tonumber(module:get_option(name));
	if not v or v ~= v then return default; end
	v = math.floor(v);
	if v < min then return min; end
	if max and v > max then return max; end
	return v;
end

local TIMES = { ["last-seen-before"] = "lastSeenBefore"; ["last-seen-after"] = "lastSeenAfter"; ["expires-before"] = "expiresBefore";
	["account-inactive-since"] = "accountInactiveSince" };

--- The <filter/> child as client_filter.compile takes it (camctl's ClientFilter: Unix seconds,
--- software = { name, version }, ...); or nil and what is wrong with it. Unknown children are
--- ignored: camctl filters again what arrives, so a server that does not know a filter returns
--- more, never less.
function M.parse_filter(filter_el)
	local spec = {};
	if not filter_el then return spec; end
	for name, key in pairs(TIMES) do
		local text = filter_el:get_child_text(name);
		if text ~= nil then
			spec[key] = client_access.parse_iso8601(text);
			if not spec[key] then return nil, name .. " is not a UTC time like 2026-11-01T10:00:00Z"; end
		end
	end
	spec.noExpiry = filter_el:get_child("no-expiry") ~= nil;
	local software = filter_el:get_child("software");
	if software then spec.software = { name = software:get_text(); version = software.attr.version }; end
	local auth = filter_el:get_child("auth");
	if auth then
		spec.auth = {};
		for method in auth:childtags() do spec.auth[#spec.auth + 1] = method.name; end
	end
	spec.type = filter_el:get_child_text("type");
	if spec.type ~= nil and spec.type ~= "session" and spec.type ~= "access" then return nil, "type is session or access"; end
	local connected = filter_el:get_child_text("connected");
	if connected ~= nil then
		if connected == "true" or connected == "1" then spec.connected = true;
		elseif connected == "false" or connected == "0" then spec.connected = false;
		else return nil, "connected is true or false"; end
	end
	spec.account = filter_el:get_child_text("account");
	return spec;
end

--- The IQ handler for <clients xmlns='urn:camctl:admin:0' host-wide='true'/> to the host.
--- deps: { module, client_management = function () -> the host's mod_client_management or nil,
---         client_element = function (client, facts, d) -> the list's <client/> element (d: the
---           client's client_access.describe, when the caller has it) }
function M.handler(deps)
	local module = deps.module;
	local st = require "prosody.util.stanza";
	local rsm = require "prosody.util.rsm";
	local time_now = require "prosody.util.time".now;
	local new_id = require "prosody.util.id".medium;
	local host = module.host;
	-- Per requesting session (weak keys: it goes with the session, so at most one per session and
	-- none left behind): the sorted account list of the scan in progress, so that pages after the
	-- first do not list and sort every account again, and so that a page can be named by account
	-- index (<index/> with snapshot='id') before the page ahead of it has arrived.
	local snapshots = setmetatable({}, { __mode = "k" });

	local function accounts_of(filter)
		local users = prosody.hosts[host] and prosody.hosts[host].users;
		if type(users) ~= "table" or type(users.users) ~= "function" then
			return nil, "feature-not-implemented", "This host's authentication provider cannot list its accounts";
		end
		local list = {};
		local ok, err = pcall(function ()
			for username in users.users() do
				if type(username) == "string" and client_filter.account_matches(filter, username, host) then
					list[#list + 1] = username;
				end
			end
		end);
		if not ok then
			return nil, "internal-server-error", "Listing the accounts failed: " .. tostring(err);
		end
		-- Plain byte order: Prosody runs in the C locale, where Lua compares strings bytewise.
		table.sort(list);
		return list;
	end

	return function (event)
		local origin, stanza = event.origin, event.stanza;
		local request = stanza.tags[1];
		local actor = origin.full_jid or stanza.attr.from or "?";
		if request.attr["host-wide"] ~= "true" then
			origin.send(st.error_reply(stanza, "modify", "bad-request", "Only host-wide='true' is served at the host"));
			return true;
		end
		-- Only local accounts may ask; remote entities are never admins here.
		if origin.type ~= "c2s" or not origin.username or not prosody.hosts[origin.host] then
			module:log("warn", "Refused to list the clients of every account on %s for non-local entity %s", host, actor);
			origin.send(st.error_reply(stanza, "auth", "forbidden"));
			return true;
		end
		if not module:may(":list-host-clients", event) then
			module:log("warn", "Refused to list the clients of every account on %s for %s: not permitted by its role", host, actor);
			origin.send(st.error_reply(stanza, "auth", "forbidden", "Listing every account's clients needs an admin role"));
			return true;
		end
		local cm = deps.client_management();
		if not cm then
			module:log("warn", "%s asked to list the clients of every account on %s, but mod_client_management is not loaded", actor, host);
			origin.send(st.error_reply(stanza, "cancel", "service-unavailable", "mod_client_management is not loaded on this host"));
			return true;
		end

		local set = rsm.get(request) or {};
		if set.before ~= nil then
			origin.send(st.error_reply(stanza, "modify", "bad-request", "Only paging forward (<after/>) is supported"));
			return true;
		end
		local function whole(n) return n ~= nil and n == n and n >= 0 and n % 1 == 0 and n < 2^53; end
		if set.max ~= nil and not whole(set.max) then
			origin.send(st.error_reply(stanza, "modify", "bad-request", "<max/> is a whole number"));
			return true;
		end
		-- A range of the snapshot: <index/> (where it starts) or <after/> (the rest of it), and
		-- end='n' (the account index it stops before).
		local stop = request.attr["end"];
		if stop ~= nil then
			stop = tonumber(stop);
			if not whole(stop) then
				origin.send(st.error_reply(stanza, "modify", "bad-request", "end is a whole number"));
				return true;
			end
		end
		if set.index ~= nil and (not whole(set.index) or set.after ~= nil) then
			origin.send(st.error_reply(stanza, "modify", "bad-request", "<index/> is a whole number, and not given with <after/>"));
			return true;
		end
		local spec, spec_error = M.parse_filter(request:get_child("filter"));
		if not spec then
			origin.send(st.error_reply(stanza, "modify", "bad-request", "Bad filter: " .. tostring(spec_error)));
			return true;
		end
		local filter = client_filter.compile(spec);
		local activity_source = account_status.activity_source(host);
		if filter.account_inactive_since and not activity_source then
			origin.send(st.error_reply(stanza, "cancel", "feature-not-implemented",
				"No account activity is recorded on this host (load mod_account_activity)")
				:tag("activity-not-recorded", { xmlns = xmlns_camctl }):up());
			return true;
		end

		local page_records = option(module, "client_management_admin_page_size", M.DEFAULTS.records, 1, 10000);
		local limits = {
			records = set.max and math.min(set.max, page_records) or page_records;
			bytes = option(module, "client_management_admin_page_bytes", M.DEFAULTS.bytes, 1024, 4 * 1024 * 1024);
			accounts = option(module, "client_management_admin_page_accounts", M.DEFAULTS.accounts, 1, 100000);
			seconds = option(module, "client_management_admin_page_ms", M.DEFAULTS.ms, 1, 10000) / 1000;
			stop = stop;
		};

		-- The account list: a new scan (no <after/>, no snapshot='id') lists the accounts afresh; its
		-- later pages reuse that list while it is in use. A page that names its snapshot gets that
		-- one or an error (an index means nothing in another list); a page that names none (an
		-- older camctl) gets a new list when the old one is gone, which is right since its cursor
		-- is a position.
		local cursor = M.parse_cursor(set.after);
		if set.index ~= nil then cursor = { index = set.index }; end
		local glob = spec.account or "";
		local snapshot = snapshots[origin];
		local named = request.attr.snapshot;
		local idle = option(module, "client_management_admin_snapshot_seconds", SNAPSHOT_SECONDS, 0, 86400);
		local usable = snapshot and snapshot.glob == glob and time_now() - snapshot.used <= idle;
		if named ~= nil then
			if not usable or snapshot.id ~= named then
				origin.send(st.error_reply(stanza, "cancel", "item-not-found",
					"This listing's snapshot of the accounts is gone (unused for too long, another listing started, or the server restarted)")
					:tag("snapshot-expired", { xmlns = xmlns_camctl }):up());
				return true;
			end
		elseif cursor == nil or not usable then
			local list, condition, text = accounts_of(filter);
			if not list then
				module:log("error", "%s asked to list the clients of every account on %s: %s", actor, host, text);
				origin.send(st.error_reply(stanza, "cancel", condition, text));
				return true;
			end
			snapshot = { id = new_id(); glob = glob; accounts = list };
			snapshots[origin] = snapshot;
		end
		snapshot.used = time_now();
		local accounts = snapshot.accounts;

		-- Naming the snapshot lets the requester ask for pages ahead; with
		-- client_management_admin_page_ahead = false it asks for one page at a time, as of old.
		local ahead = module:get_option_boolean("client_management_admin_page_ahead", true);
		local answer = st.stanza("clients", { xmlns = xmlns_camctl; ["host-wide"] = "true"; snapshot = ahead and snapshot.id or nil });
		if limits.records == 0 then
			-- <max>0</max>: the count only (XEP-0059 2.7).
			answer:add_child(rsm.generate({ count = #accounts }));
			origin.send(st.reply(stanza):add_child(answer));
			return true;
		end

		local function read(username)
			local ok, clients, reason = pcall(cm.get_active_clients, username);
			if not ok or type(clients) ~= "table" then
				local why = not ok and tostring(clients) or tostring(reason or "no list");
				module:log("warn", "%s listing the clients of every account on %s: the clients of %s could not be read: %s", actor, host, username, why);
				return nil, why;
			end
			local rows, account = {}, client_access.xml_text(username .. "@" .. host);
			local network = deps.network_facts and deps.network_facts(username) or nil;
			local facts = account_status.facts(host, username, activity_source);
			if not client_filter.activity_matches(filter, facts.last_activity) then return rows; end
			for _, client in ipairs(clients) do
				local d = type(client) == "table" and client.id ~= nil and client_access.describe(client);
				if d and client_filter.client_matches(filter, d) then
					local el = deps.client_element(client, network, d);
					el.attr.account = account;
					el.attr["account-status"] = facts.status;
					el.attr["account-last-activity"] = facts.last_activity and client_access.iso8601(facts.last_activity) or nil;
					rows[#rows + 1] = { id = tostring(client.id); size = M.xml_size(el); element = el };
				end
			end
			return rows;
		end

		local page = M.page(accounts, cursor, limits, read, time_now);
		for _, item in ipairs(page.rows) do answer:add_child(item.row.element); end
		for _, failure in ipairs(page.failed) do
			answer:text_tag("failed", client_access.xml_text(failure.reason), { account = client_access.xml_text(failure.user .. "@" .. host) });
		end
		answer.attr.scanned = string.format("%d", page.scanned);
		answer.attr.complete = page.complete and "true" or "false";
		local result_set = { count = #accounts; last = page.last };
		if page.first then result_set.first = { index = page.first_index; page.first }; end
		answer:add_child(rsm.generate(result_set));
		module:log(cursor == nil and "info" or "debug",
			"Admin %s listed the clients of every account on %s: accounts %d..%d of %d, %d client%s%s",
			actor, host, page.first_index and page.first_index + 1 or page.scanned, page.scanned, #accounts, #page.rows,
			#page.rows == 1 and "" or "s", page.complete and ", done" or "");
		origin.send(st.reply(stanza):add_child(answer));
		-- Let this answer leave before the session's next request is handled. Prosody writes what a
		-- handler sends only when its event loop turns (opportunistic_writes is off by default), so
		-- pages asked ahead were answered together after all of them were made, and the server then
		-- waited while camctl took them in (BENCHMARKS.md, "The XMPP listing with the real module").
		-- Outside a runner (no async context) the answer simply waits as before.
		local async = require "prosody.util.async";
		if async.ready() then async.sleep(0); end
		return true;
	end
end

return M;
