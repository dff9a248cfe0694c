-- client_access: the complete, verified revocation of one listed client, and the helpers that
-- describe a listed client the same way everywhere.
--
-- One implementation, two callers: mod_client_management_admin loads it with
-- module:require("client_access") for its XMPP protocol, and camctl sends this very file over
-- Prosody's admin socket (inside a function, see camctl's src/transports/socket/lua.ts) for `--socket`.
-- So it must run in a module environment and in the admin shell's global environment alike:
-- it uses only globals both have (prosody, require, the Lua standard library), and loads
-- Prosody's libraries inside the functions that need them, so that the pure helpers also run in a
-- plain Lua interpreter (camctl's tests do that).
--
-- Everything goes through public APIs: mod_client_management's get_active_clients,
-- mod_tokenauth's get_grant_info/revoke_grant, mod_sasl2_fast's is_client_fast/revoke_fast_tokens,
-- and sessions' own close(). The module's revoke_client_access is deliberately not used: on a
-- connected client it closes the session without a stream error and reports failure, it never
-- revokes a FAST token the client has not used yet, and it raises on ids that are stored but no
-- longer active.

local M = {};

-- Whole Unix seconds that ISO 8601 can show with a four-digit year: 0000-01-01T00:00:00Z ..
-- 9999-12-31T23:59:59Z. Anything else (1e300, NaN, infinities, year 10000) has no such form.
M.MIN_SECONDS = -62167219200;
M.MAX_SECONDS = 253402300799;

--- A stored time as whole seconds, or nil when it is missing or has no four-digit-year form.
function M.whole_seconds(value)
	-- What the module stores (os.time()): nothing to convert.
	if math.type(value) == "integer" and value >= M.MIN_SECONDS and value <= M.MAX_SECONDS then return value; end
	local n = tonumber(value);
	if not n or n ~= n then return nil; end
	n = math.floor(n);
	if n < M.MIN_SECONDS or n > M.MAX_SECONDS then return nil; end
	return math.tointeger(n);
end

-- Days since 1970-01-01 <-> proleptic Gregorian civil date (H. Hinnant's algorithms): pure
-- arithmetic (Lua's // floors, so no adjustment for negative values), no time zone or C library
-- year handling involved.
local function days_from_civil(y, m, d)
	y = m <= 2 and y - 1 or y;
	local era = y // 400;
	local yoe = y - era * 400;
	local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1;
	local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy;
	return era * 146097 + doe - 719468;
end

local function civil_from_days(z)
	z = z + 719468;
	local era = z // 146097;
	local doe = z - era * 146097;
	local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365;
	local doy = doe - (365 * yoe + yoe // 4 - yoe // 100);
	local mp = (5 * doy + 2) // 153;
	local d = doy - (153 * mp + 2) // 5 + 1;
	local m = mp + (mp < 10 and 3 or -9);
	return yoe + era * 400 + (m <= 2 and 1 or 0), m, d;
end

--- "YYYY-MM-DDTHH:MM:SSZ" for a stored time, or nil (see whole_seconds).
function M.iso8601(value)
	local t = M.whole_seconds(value);
	if not t then return nil; end
	local days, secs = t // 86400, t % 86400;
	local y, m, d = civil_from_days(days);
	return string.format("%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d, secs // 3600, secs % 3600 // 60, secs % 60);
end

--- Whole seconds from "YYYY-MM-DDTHH:MM:SS[.fraction]Z" (UTC only), or nil.
function M.parse_iso8601(text)
	if type(text) ~= "string" then return nil; end
	local y, mo, d, h, mi, s = text:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)%.?%d*Z$");
	if not y then return nil; end
	y, mo, d, h, mi, s = tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(s);
	if mo < 1 or mo > 12 or d < 1 or d > 31 or h > 23 or mi > 59 or s > 60 then return nil; end
	return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
end

local REPLACEMENT = "\239\191\189"; -- U+FFFD

--- The string with every byte that is not part of valid UTF-8 replaced by U+FFFD; nil for non-strings.
function M.utf8_text(s)
	if type(s) ~= "string" then return nil; end
	local ok, bad = utf8.len(s);
	while not ok do
		s = s:sub(1, bad - 1) .. REPLACEMENT .. s:sub(bad + 1);
		ok, bad = utf8.len(s);
	end
	return s;
end

--- The string as XML can carry it: valid UTF-8, and the characters XML 1.0 forbids (C0 controls
--- other than tab, line feed and carriage return; U+FFFE, U+FFFF) replaced by U+FFFD.
function M.xml_text(s)
	s = M.utf8_text(s);
	if not s then return nil; end
	return (s:gsub("[\0-\8\11\12\14-\31]", REPLACEMENT):gsub("\239\191[\190\191]", REPLACEMENT));
end

--- Authentication methods of a listed client: the keys of `active` except "connected", sorted.
--- Into `methods` when given (emptied first), else a new list.
function M.auth_methods(active, methods)
	if methods then
		for i = #methods, 1, -1 do methods[i] = nil; end
	else
		methods = {};
	end
	if type(active) == "table" then
		for key in pairs(active) do
			if type(key) == "string" and key ~= "connected" then
				methods[#methods + 1] = key;
			end
		end
	end
	-- Most clients have one method: no sort (a host scan calls this for every row).
	if methods[2] then table.sort(methods); end
	return methods;
end

local function text(v) return type(v) == "string" and v or nil; end

--- What camctl shows of a listed client, and nothing else: `active.grant` holds token secrets and
--- internal fields (full_jid, mechanisms) are private. Strings are as stored (callers make them
--- safe for their wire format); times are whole seconds or nil. With `into`, its fields (and its
--- auth list) are overwritten instead of making new tables: a host scan describes every client of
--- the host one after the other, and each table made costs Prosody's collector (BENCHMARKS.md).
local EMPTY = {};
function M.describe(client, into)
	local ua = client.user_agent;
	if type(ua) ~= "table" then ua = EMPTY; end
	local active = client.active;
	if type(active) ~= "table" then active = EMPTY; end
	local d = into or {};
	d.id = text(client.id) or tostring(client.id);
	d.type = client.type == "access" and "access" or "session";
	d.connected = active.connected and true or false;
	d.first_seen = M.whole_seconds(client.first_seen);
	d.last_seen = M.whole_seconds(client.last_seen);
	d.expires = M.whole_seconds(client.expires);
	d.auth = M.auth_methods(active, into and into.auth);
	d.software = text(ua.software);
	d.version = text(ua.software_version);
	d.software_id = text(ua.software_id);
	d.uri = text(ua.uri);
	d.device = text(ua.device);
	return d;
end

--- The listed client whose id is exactly `id`, or nil.
function M.find(clients, id)
	for _, client in ipairs(clients) do
		if type(client) == "table" and client.id == id then
			return client;
		end
	end
	return nil;
end

--- Whether a listed client is still the one the caller saw: same type, first-seen second, software
--- and device. Texts are compared as XML can carry them, so a client listed over XMPP (where
--- control characters arrive as U+FFFD) matches as well as one listed over the admin socket.
--- `expect`: { type = "session"|"access", first_seen = seconds|nil, software = text|nil, device = text|nil }
function M.same_client(client, expect)
	local seen = M.describe(client);
	return seen.type == expect.type
		and seen.first_seen == M.whole_seconds(expect.first_seen)
		and M.xml_text(seen.software) == M.xml_text(expect.software)
		and M.xml_text(seen.device) == M.xml_text(expect.device);
end

--- A failure text from the module, as a condition camctl and the protocol know.
function M.condition_of(reason)
	if reason == "forbidden" or reason == "not-authorized" or reason == "not-allowed" then
		return "forbidden";
	end
	return "internal-server-error";
end

-- The stream error a revoked client's session is closed with: the client is told why.
M.CLOSE_REASON = { condition = "not-authorized"; text = "Access for this client was revoked" };

-- The session a listed session client is connected with right now, if any. A full JID can be
-- bound again by another client after this one left, so the session must also carry this
-- client's id (SASL2) or none (legacy clients, tracked by resource). With username and host, the
-- session must also be that account's. Also client_network.lib.lua's (live addresses).
local function session_of(client, username, host)
	if type(client) ~= "table" or type(client.full_jid) ~= "string" then return nil; end
	local full_sessions = type(prosody) == "table" and prosody.full_sessions;
	local session = full_sessions and full_sessions[client.full_jid];
	if type(session) ~= "table" then return nil; end
	if username ~= nil and (session.username ~= username or session.host ~= host) then return nil; end
	local client_id = type(client.id) == "string" and client.id:match("^client/(.*)$");
	if client.legacy then
		if session.client_id ~= nil then return nil; end
	elseif session.client_id ~= client_id then
		return nil;
	end
	return session;
end

M.session_of = session_of;

-- Grants the listed client can come back with: the grant itself (grant/...), the grant its token
-- belonged to (OAUTHBEARER clients carry its id), and a grant the module tied to it.
local function grant_ids_of(client)
	local ids = {};
	local own = type(client.id) == "string" and client.id:match("^grant/(.+)$");
	if own then ids[own] = true; end
	if type(client.auth_token_id) == "string" then ids[client.auth_token_id] = true; end
	local active = type(client.active) == "table" and client.active or {};
	if type(active.grant) == "table" and type(active.grant.id) == "string" then ids[active.grant.id] = true; end
	return ids;
end

-- Calls another module's function: a raise there is that module's failure, reported as one
-- (nil and the error text), not a failure of camctl's request.
local function call(f, ...)
	local ok, result, err = pcall(f, ...);
	if not ok then return nil, tostring(result); end
	return result, err;
end

--- The host's session, its modules, and its mod_client_management (nil when not loaded).
function M.host_modules(host)
	local host_session = prosody.hosts[host];
	local modules = host_session and host_session.modules or {};
	local cm = modules.client_management;
	if type(cm) ~= "table" or type(cm.get_active_clients) ~= "function" then cm = nil; end
	return host_session, modules, cm;
end

--- The clients mod_client_management `cm` lists for username, or nil, condition, text.
local function list_clients(cm, username)
	local ok, clients, reason = pcall(cm.get_active_clients, username);
	if not ok then
		return nil, "internal-server-error", tostring(clients);
	elseif type(clients) ~= "table" then
		return nil, M.condition_of(reason), reason ~= nil and tostring(reason) or nil;
	end
	return clients;
end
M.list_clients = list_clients;

--- Revokes everything the listed client `id` of username@host can come back with, after checking
--- that it is still listed as the client the caller saw (`expect`, see same_client; nil skips the
--- check, for requests that name only an id), then lists again.
---
--- ctx: { host = "example.com", actor = "who, for the log", log = function(level, fmt, ...),
---        requester = the session asking (its own session is closed only after it got the answer) }
---
--- Returns a report { id, session_closed, fast_tokens_revoked, grant_revoked, after = the listed
--- client afterwards or nil, deferred = { sessions the caller closes after answering } },
--- or nil, condition, text with condition one of "module-not-loaded", "gone" (not listed),
--- "changed" (listed as another client), "forbidden", "internal-server-error".
function M.revoke(ctx, username, id, expect)
	local _, _, cm = M.host_modules(ctx.host);
	if not cm then return nil, "module-not-loaded"; end
	local clients, condition, text = list_clients(cm, username);
	if not clients then return nil, condition, text; end
	local report;
	report, condition, text = M.revoke_listed(ctx, username, id, expect, clients);
	if not report then return nil, condition, text; end
	local after_list;
	after_list, condition, text = list_clients(cm, username);
	return M.verify(ctx, username, report, after_list, condition, text);
end

--- Several listed clients of one account, in order, each checked, revoked and verified as
--- M.revoke does, with fewer readings of the list: an item is checked against a list read after
--- every revocation before it that touched what another listed entry rests on (a grant it logged
--- in with, a session it shares: revoke_listed's others_affected), and each item is verified
--- against a list read after its own revocation (one reading verifies every item revoked since
--- the one before). items: array of { id =, expect = }. Stops early, before an item, once
--- `stop()` says so. Returns an array of results in item order, each { report } or
--- { nil, condition, text } (M.revoke's); items not reached have none.
function M.revoke_many(ctx, username, items, stop)
	local results = {};
	ctx.account_info = ctx.account_info or {};
	local _, _, cm = M.host_modules(ctx.host);
	if not cm then
		for i = 1, #items do results[i] = { nil, "module-not-loaded" }; end
		return results;
	end
	local clients, condition, text = list_clients(cm, username);
	local pending = {};
	local function verify_pending()
		if not pending[1] then return; end
		local after_list, after_condition, after_text = list_clients(cm, username);
		for _, i in ipairs(pending) do
			results[i] = { M.verify(ctx, username, results[i][1], after_list, after_condition, after_text) };
		end
		pending = {};
		return after_list, after_condition, after_text;
	end
	for i, item in ipairs(items) do
		if i > 1 and stop and stop() then break; end
		if not clients then
			results[i] = { nil, condition, text };
		else
			local report, c, t = M.revoke_listed(ctx, username, item.id, item.expect, clients);
			results[i] = { report, c, t };
			if report then
				pending[#pending + 1] = i;
				if report.others_affected then
					clients, condition, text = verify_pending();
				end
			end
		end
	end
	verify_pending();
	return results;
end

--- The revocation of the listed client `id` (M.revoke's), against the list `clients` read
--- just before: the report without `after`, or nil, condition, text.
function M.revoke_listed(ctx, username, id, expect, clients)
	local host, log = ctx.host, ctx.log;
	local target = username .. "@" .. host;
	local host_session, modules = M.host_modules(host);
	local client = M.find(clients, id);
	if not client then
		log("info", "%s asked to revoke %s of %s: not listed, nothing revoked", ctx.actor, id, target);
		return nil, "gone";
	end
	if expect and not M.same_client(client, expect) then
		log("info", "%s asked to revoke %s of %s: listed as another client now, nothing revoked", ctx.actor, id, target);
		return nil, "changed";
	end

	local report = { id = id; session_closed = false; fast_tokens_revoked = false; grant_revoked = false; deferred = {} };
	local done = {};

	-- Credentials first, sessions last: a closed client must find no token to come back with.
	local grant_ids = grant_ids_of(client);
	local tokenauth = modules.tokenauth;
	if next(grant_ids) ~= nil and type(tokenauth) == "table" then
		for grant_id in pairs(grant_ids) do
			-- get_grant_info is nil for grants that are gone, expired or older than the password.
			local ok_info, info = pcall(tokenauth.get_grant_info, username, grant_id);
			if not ok_info then
				log("error", "%s revoking %s of %s: reading grant %s failed: %s", ctx.actor, id, target, grant_id, tostring(info));
				return nil, "internal-server-error", "reading the grant failed: " .. tostring(info);
			end
			if info then
				local ok, err = call(tokenauth.revoke_grant, username, grant_id);
				if not ok then
					log("error", "%s revoking %s of %s: revoking grant %s failed: %s", ctx.actor, id, target, grant_id, tostring(err));
					return nil, "internal-server-error", "revoking the grant failed: " .. tostring(err);
				end
				report.grant_revoked = true;
				done[#done + 1] = "revoked grant " .. grant_id;
			end
		end
	end

	-- FAST tokens are kept per client id whether or not the client has used one yet, so they are
	-- revoked for every client/... entry.
	local client_id = id:match("^client/(.*)$");
	local fast = modules.sasl2_fast;
	if client_id and type(fast) == "table" and type(fast.revoke_fast_tokens) == "function" then
		local had_token = false;
		if type(fast.is_client_fast) == "function" then
			-- A batch (revoke_many) reads the account once: its password does not change meanwhile.
			local account = ctx.account_info and ctx.account_info[username];
			if account == nil then
				account = require "prosody.core.usermanager".get_account_info(username, host) or false;
				if ctx.account_info then ctx.account_info[username] = account; end
			end
			had_token = call(fast.is_client_fast, username, client_id, account and account.password_updated or nil) and true or false;
		end
		local revoked, err = call(fast.revoke_fast_tokens, username, client_id);
		if not revoked then
			log("error", "%s revoking %s of %s: revoking its FAST tokens failed: %s", ctx.actor, id, target, tostring(err));
			return nil, "internal-server-error", "revoking the FAST tokens failed" .. (err ~= nil and ": " .. tostring(err) or "");
		end
		report.fast_tokens_revoked = had_token;
		if had_token then done[#done + 1] = "revoked its FAST tokens"; end
	end

	-- Its session, and every session that logged in with a grant revoked above.
	local sessions = {};
	local own_session = session_of(client, username, host);
	if own_session then sessions[own_session] = true; end
	if client_id and not client.legacy then
		-- A client can be connected more than once under the same id.
		local user = host_session.sessions and host_session.sessions[username];
		for _, session in pairs(user and user.sessions or {}) do
			if session.client_id == client_id then sessions[session] = true; end
		end
	end
	if next(grant_ids) ~= nil then
		for _, other in ipairs(clients) do
			if type(other) == "table" and grant_ids[other.auth_token_id] then
				local session = session_of(other, username, host);
				if session then sessions[session] = true; end
			end
		end
	end
	-- Whether another listed entry rests on what is revoked here (its grant, its session): a batch
	-- (revoke_many) reads the list again before checking the next item only then.
	for _, other in ipairs(clients) do
		if type(other) == "table" and other.id ~= id then
			local other_active = type(other.active) == "table" and other.active or {};
			local other_grant = type(other_active.grant) == "table" and other_active.grant.id or nil;
			local other_session = session_of(other, username, host);
			if grant_ids[other.auth_token_id] or (other_grant and grant_ids[other_grant]) or (other_session and sessions[other_session]) then
				report.others_affected = true;
				break;
			end
		end
	end
	local closed = 0;
	for session in pairs(sessions) do
		if session == ctx.requester then
			table.insert(report.deferred, session);
		else
			local ok, err = pcall(session.close, session, M.CLOSE_REASON);
			if not ok then
				log("warn", "%s revoking %s of %s: closing %s failed: %s", ctx.actor, id, target, tostring(session.full_jid), tostring(err));
			end
		end
		closed = closed + 1;
		report.session_closed = true;
	end
	if closed > 0 then done[#done + 1] = ("closed %d session%s"):format(closed, closed == 1 and "" or "s"); end

	report.summary = #done > 0 and table.concat(done, ", ") or "nothing to revoke";
	return report;
end

--- Completes a report of M.revoke_listed with what holds now: `after_list` is the account's list
--- read after the revocation (or nil, condition, text when reading it failed). Returns the report,
--- or nil, condition, text.
function M.verify(ctx, username, report, after_list, after_condition, after_text)
	local host, log, id, summary = ctx.host, ctx.log, report.id, report.summary;
	local target = username .. "@" .. host;
	report.summary, report.others_affected = nil, nil;
	if not after_list then
		log("info", "%s revoked %s of %s: %s; listing afterwards failed", ctx.actor, id, target, summary);
		return nil, after_condition, "revoked, but listing the clients afterwards failed: " .. tostring(after_text or after_condition);
	end
	local after = M.find(after_list, id);
	if after and report.deferred[1] and session_of(after, username, host) == report.deferred[1] then
		-- Its only connection is the requester's, closed right after the answer: not "connected".
		local active = {};
		for k, v in pairs(type(after.active) == "table" and after.active or {}) do
			if k ~= "connected" then active[k] = v; end
		end
		after.active = active;
		if next(active) == nil then after = nil; end
	end
	report.after = after;
	local left = after and table.concat(M.auth_methods(after.active), ", ") or "";
	log("info", "%s revoked %s of %s: %s; %s", ctx.actor, id, target, summary,
		after and ("still listed" .. (left ~= "" and " with " .. left or "")) or "no access left");
	M.announce(host, "camctl/client-revoked", { username = username; host = host; id = id;
		detail = tostring(ctx.actor) .. " revoked it: " .. summary });
	return report;
end

--- Tells whoever listens on the host (camctl watch, watch.lua) what camctl did: an event that
--- nothing else handles, so it changes nothing. Never fails the caller.
function M.announce(host, name, data)
	local host_session = prosody.hosts[host];
	if host_session and host_session.events then pcall(host_session.events.fire_event, name, data); end
end

--- Closes the sessions a report deferred (the requester's own), after the answer was sent.
function M.close_deferred(report)
	for _, session in ipairs(report.deferred or {}) do
		pcall(session.close, session, M.CLOSE_REASON);
	end
end

return M;
