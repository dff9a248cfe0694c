-- network_record: the companion's own record of where each client logs in from.
--
-- Per account, in the keyval store "client_management_admin_network" of the host, one entry per
-- client, keyed by the id mod_client_management lists it under:
--   client/<SASL2 client id>        a SASL2 login with a client id
--   client/<id>                     a legacy client (no SASL2 id, tracked by its resource), looked
--                                   up through mod_client_management's get_active_clients once the
--                                   resource is bound
--   grant/<grant id>                a login with a grant's token (also recorded under its client)
-- and for each: first_ip, first_login, last_ip, last_login (Unix seconds), last_mechanism (the SASL
-- mechanism's name) and logins (how many logins were counted).
--
-- Options, named and defaulting like mod_audit's:
--   client_management_admin_log_ips        (true)  record addresses at all; false: times,
--                                                   mechanism and count only
--   client_management_admin_ipv4_prefix    (none)  keep only this many leading bits of an IPv4
--   client_management_admin_ipv6_prefix    (none)  address, as "network/bits" (multiples of 8)
--   client_management_admin_expires_after  (28 days) what is older is forgotten: an entry whose
--                                                   last login is older goes; a first address older
--                                                   is erased (its time is kept)
local M = {};

M.STORE = "client_management_admin_network";

--- The pure part, testable without Prosody: what is kept of `record` at `now` with `expires`
--- seconds of retention (nil when nothing is).
function M.expire(record, now, expires)
	if type(record) ~= "table" then return nil; end
	local cutoff = now - expires;
	if type(record.last_login) ~= "number" or record.last_login < cutoff then return nil; end
	if type(record.first_login) ~= "number" or record.first_login < cutoff then
		record.first_ip = nil;
	end
	return record;
end

--- `record` (or a new one) after a login at `now` from `address` (nil: not recorded) with `mechanism`.
function M.update(record, now, address, mechanism)
	if type(record) ~= "table" then
		record = { first_login = now; first_ip = address; logins = 0 };
	end
	record.last_login = now;
	record.last_ip = address;
	record.last_mechanism = mechanism;
	record.logins = (math.type(record.logins) == "integer" and record.logins or 0) + 1;
	return record;
end

function M.install(module, deps)
	local ip_util = require "prosody.util.ip";
	local log_ips = module:get_option_boolean("client_management_admin_log_ips", true);
	local ipv4_prefix = module:get_option_number("client_management_admin_ipv4_prefix", nil);
	local ipv6_prefix = module:get_option_number("client_management_admin_ipv6_prefix", nil);
	local expires = module:get_option_period("client_management_admin_expires_after", "28 days");
	if type(expires) ~= "number" or expires ~= expires then
		module:log("error", "client_management_admin_expires_after is not a period; using 28 days");
		expires = 28 * 86400;
	end
	for name, bits in pairs({ ipv4 = ipv4_prefix; ipv6 = ipv6_prefix }) do
		if bits ~= nil and (bits < 0 or bits % 8 ~= 0) then
			-- util.ip truncates whole bytes only; recording the full address instead would break
			-- the promise the option makes, so no address is recorded at all.
			module:log("error", "client_management_admin_%s_prefix must be a multiple of 8; no addresses are recorded", name);
			log_ips = false;
		end
	end
	local store = module:open_store(M.STORE, "keyval");

	--- What is recorded of a session's address: nil, the address, or "network/bits".
	local function address_of(session)
		if not log_ips or type(session.ip) ~= "string" then return nil; end
		local parsed = ip_util.new_ip(session.ip);
		if not parsed then return nil; end
		local bits = parsed.proto == "IPv4" and ipv4_prefix or parsed.proto == "IPv6" and ipv6_prefix or nil;
		if not bits then return session.ip; end
		local ok, network = pcall(ip_util.truncate, parsed, bits);
		if not ok or not network then return nil; end
		return network.normal .. "/" .. string.format("%d", bits);
	end

	--- The records of username, expired ones dropped (and the store rewritten when any were).
	local function read(username)
		local data, err = store:get(username);
		if data == nil and err then return nil, err; end
		local kept, changed, now = {}, false, os.time();
		for key, record in pairs(data or {}) do
			local first_ip = type(record) == "table" and record.first_ip;
			local still = M.expire(record, now, expires);
			if still then kept[key] = still; end
			if not still or (first_ip and not still.first_ip) then changed = true; end
		end
		if changed then store:set(username, next(kept) and kept or nil); end
		return kept;
	end

	local function record_login(session, keys)
		local username = session.username;
		if type(username) ~= "string" or not keys[1] then return; end
		local login = session.camctl_network_login or {};
		local mechanism = login.mechanism or (session.sasl_handler and session.sasl_handler.selected);
		local data = read(username);
		if not data then
			module:log("warn", "Could not read the login records of %s; this login is not recorded", username);
			return;
		end
		local now, address = os.time(), address_of(session);
		for _, key in ipairs(keys) do
			data[key] = M.update(data[key], now, address, type(mechanism) == "string" and mechanism or nil);
		end
		local ok, err = store:set(username, data);
		if not ok then module:log("warn", "Could not store the login records of %s: %s", username, tostring(err)); end
	end

	-- How the session authenticated: noted at authentication-success (which both legacy SASL and
	-- SASL2 fire), as the legacy handler may be gone by the time the resource is bound.
	module:hook("authentication-success", function (event)
		local session = event.session;
		local handler = session and session.sasl_handler;
		if not handler then return; end
		session.camctl_network_login = {
			mechanism = handler.selected;
			token_id = handler.token_info and handler.token_info.id or nil;
		};
	end);

	local function grant_key(session)
		local login = session.camctl_network_login;
		local token_id = login and login.token_id
			or (session.sasl_handler and session.sasl_handler.token_info and session.sasl_handler.token_info.id);
		return type(token_id) == "string" and ("grant/" .. token_id) or nil;
	end

	-- SASL2 with a client id: mod_client_management lists it as client/<id>.
	module:hook("sasl2/c2s/success", function (event)
		local session = event.session;
		if not session or type(session.client_id) ~= "string" then return; end
		local keys = { "client/" .. session.client_id };
		keys[#keys + 1] = grant_key(session);
		record_login(session, keys);
	end, -10);

	-- Everything else is tracked by mod_client_management at resource binding (it runs first, at
	-- the default priority): find the legacy client it has just bound to this full JID.
	module:hook("resource-bind", function (event)
		local session = event.session;
		if not session or session.client_id ~= nil or type(session.username) ~= "string" then return; end
		local keys = {};
		local cm = deps.client_management();
		if cm then
			local ok, clients = pcall(cm.get_active_clients, session.username);
			if ok and type(clients) == "table" then
				for _, client in ipairs(clients) do
					if type(client) == "table" and client.legacy and client.full_jid == session.full_jid and type(client.id) == "string" then
						keys[#keys + 1] = client.id;
						break;
					end
				end
			end
		end
		keys[#keys + 1] = grant_key(session);
		record_login(session, keys);
	end, -10);

	-- Accounts that never log in again are swept once a day.
	module:daily("Expire client login records", function ()
		local ok, users = pcall(store.users, store);
		if not ok or type(users) ~= "function" then return; end
		for username in users do read(username); end
	end);

	return read;
end

return M;
