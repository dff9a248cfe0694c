-- mod_client_management_admin: lets server admins list and revoke the clients of OTHER local
-- accounts over XMPP, and gives every account (and admins) a complete, verified revocation.
--
-- Shipped with camctl, in its prosody/ directory. README.md beside this file has the protocol.
--
-- 1. Admins, in mod_client_management's own protocols, addressed to another account's bare JID:
--      <iq type="get" to="bob@example.com"><list xmlns="xmpp:prosody.im/protocol/manage-clients"/></iq>
--      <iq type="set" to="bob@example.com"><revoke xmlns="urn:xmpp:cam:0" id="grant/..."/></iq>
--    Requests to the sender's own account are left to mod_client_management.
-- 2. Anyone, about their own account (no 'to'), and admins about other accounts:
--      <iq type="set"><revoke xmlns="urn:camctl:admin:0" id="client/...">
--        <expect type="session" first-seen="2026-11-01T10:00:00Z"><software>Gajim</software></expect>
--      </revoke></iq>
--    revokes everything that listed client can come back with (its sessions, FAST tokens and
--    grant), after checking it is still the client the requester saw, and answers with what holds
--    afterwards. The logic is client_access.lib.lua, which camctl also runs over the admin socket.
-- 3. Admins, the clients of every account of the host, paged (XEP-0059), with filters:
--      <iq type="get" to="example.com"><clients xmlns="urn:camctl:admin:0" host-wide="true">...</clients></iq>
--    (host_clients.lib.lua; permission :list-host-clients).
-- 4. Admins, locking another account out (camctl user lockout --jid admin@...):
--      <iq type="set" to="bob@example.com"><lockout xmlns="urn:camctl:admin:0"><disable/></lockout></iq>
--    revokes everything that can come back without the password, then disables the account or
--    sets <new-password/> (lockout.lib.lua on account_lockout.lib.lua; permission :lockout-accounts).
--
-- 6. Admins, the history of an account or of the host (mod_audit's archive and camctl's store),
--    paged (XEP-0059): <iq type="get" to="example.com"><history xmlns="urn:camctl:admin:0"/></iq>
--    (history_admin.lib.lua; permission :read-history). Revocations and lock-outs made through
--    this module are recorded in that history (history_log.lib.lua).
--
-- Permissions (Prosody 13 roles): client_management_admin:list-clients and :revoke-clients for
-- other accounts (default prosody:admin, and so prosody:operator); for one's own account
-- mod_client_management's client_management:manage-clients (default prosody:registered).
-- Every action on another account, allowed or refused, and every revocation is logged with the
-- actor and the target.

local st = require "prosody.util.stanza";
local jid_split = require "prosody.util.jid".split;
local usermanager = require "prosody.core.usermanager";
local client_access = module:require("client_access");
local client_network = module:require("client_network");
local history_log = module:require("history_log");

local xmlns_manage_clients = "xmpp:prosody.im/protocol/manage-clients";
local xmlns_cam = "urn:xmpp:cam:0";
local xmlns_camctl = "urn:camctl:admin:0";

local host = module.host;

module:default_permission("prosody:admin", ":list-clients");
module:default_permission("prosody:admin", ":revoke-clients");
module:add_feature(xmlns_camctl);

-- This copy's version, for `camctl doctor` (it reads prosody.hosts[host].modules.client_management_admin).
camctl_companion_version = "0.1.0";

local function log(level, fmt, ...)
	return module:log(level, fmt, ...);
end

-- mod_client_management of this host, looked up per request so reloads are followed.
local function client_management()
	local h = prosody.hosts[host];
	local cm = h and h.modules and h.modules.client_management;
	if type(cm) == "table" and type(cm.get_active_clients) == "function" then
		return cm;
	end
	return nil;
end

--- Records one of camctl's own events (client-revoked, account-locked-out) in the account's
--- history (history_log.record: mod_audit where loaded, else camctl's store), as the admin socket
--- does; the source names this module. A failure is logged, never fatal: the change is done.
local function record_event(username, event_type, detail)
	local where, err = history_log.record(host, username, event_type, detail, module);
	if not where then
		module:log("warn", "Could not record %s of %s@%s in the history: %s", event_type, username, host, tostring(err));
	end
end

local function record_revocation(username, id, actor, report)
	record_event(username, "client-revoked", {
		client = report.id or id; actor = actor;
		sessionClosed = report.session_closed; fastTokensRevoked = report.fast_tokens_revoked; grantRevoked = report.grant_revoked;
	});
end

-- Who is asking, for the log.
local function actor_of(event)
	return event.origin and event.origin.full_jid or event.stanza.attr.from or "?";
end

--- A listed client as <client/> (the element mod_client_management sends, plus <expires/>, and
--- with camctl's auth names: password, grant, fast). Texts are made safe for XML: a control
--- character in a client's name must not make the whole reply fail. With `facts` (the account's
--- login records, network_record.lib.lua) it carries <network xmlns="urn:camctl:admin:0"/>: the
--- live session's address and start, and what was recorded (see README, "Addresses").
local function client_element(client, facts, d)
	d = d or client_access.describe(client);
	local el = st.stanza("client", {
		id = client_access.xml_text(d.id);
		type = d.type;
		connected = d.connected and "true" or "false";
	});
	local first_seen, last_seen, expires = client_access.iso8601(d.first_seen), client_access.iso8601(d.last_seen), client_access.iso8601(d.expires);
	if first_seen then el:text_tag("first-seen", first_seen); end
	if last_seen then el:text_tag("last-seen", last_seen); end
	if expires then el:text_tag("expires", expires); end
	el:tag("auth");
	for _, method in ipairs(d.auth) do
		-- Only names that can be XML element names; anything else is skipped, never emitted.
		if method:match("^[%a_][%w%-%._]*$") then
			el:tag(method):up();
		end
	end
	el:up();
	el:tag("user-agent");
	if d.software then
		-- id and version as attributes of <software>, as mod_client_management sends them.
		el:text_tag("software", client_access.xml_text(d.software), {
			id = client_access.xml_text(d.software_id);
			version = client_access.xml_text(d.version);
		});
	end
	if d.device then el:text_tag("device", client_access.xml_text(d.device)); end
	if d.uri then el:text_tag("uri", client_access.xml_text(d.uri)); end
	el:up();
	if facts then
		client_network.annotate(d, client, facts);
		el:tag("network", {
			xmlns = xmlns_camctl;
			ip = client_access.xml_text(d.ip);
			["connected-since"] = client_access.iso8601(d.connected_since);
			["first-ip"] = client_access.xml_text(d.first_ip);
			["first-login"] = client_access.iso8601(d.first_login);
			["last-ip"] = client_access.xml_text(d.last_ip);
			["last-login"] = client_access.iso8601(d.last_login);
			["last-mechanism"] = client_access.xml_text(d.last_mechanism);
			logins = d.login_count and string.format("%d", d.login_count) or nil;
		}):up();
	end
	return el;
end

-- 5. Where clients log in from (network_record.lib.lua): recorded at each login, joined to the
-- listings above, and read over the admin socket through this global (client_network.lib.lua).
local read_network = module:require("network_record").install(module, { client_management = client_management });

--- The login records of username (a map keyed by listed id; empty when there are none).
function network_facts(username)
	local facts = read_network(username);
	return facts or {};
end
camctl_client_network = network_facts;

-- The account a request is about and whether it is the requester's own, or nil (not ours).
local function target_of(event)
	local origin, stanza = event.origin, event.stanza;
	if event.to_self then
		return origin.username, true;
	end
	local username, to_host = jid_split(stanza.attr.to);
	if not username or to_host ~= host then
		return nil;
	end
	return username, origin.type == "c2s" and origin.username == username and origin.host == host;
end

-- The checks every request for another account passes, in this order. Returns the username and
-- mod_client_management, or nil once the request has been answered.
local function checked(event, permission, what, username, own)
	local origin, stanza = event.origin, event.stanza;
	local target = username .. "@" .. host;
	local actor = actor_of(event);
	-- Only local accounts may act; remote entities are never admins here.
	if origin.type ~= "c2s" or not origin.username or not prosody.hosts[origin.host] then
		module:log("warn", "Refused to %s of %s for non-local entity %s", what, target, actor);
		origin.send(st.error_reply(stanza, "auth", "forbidden"));
		return nil;
	end
	local cm = client_management();
	if not cm then
		module:log("warn", "%s asked to %s of %s, but mod_client_management is not loaded on %s", actor, what, target, host);
		origin.send(st.error_reply(stanza, "cancel", "service-unavailable", "mod_client_management is not loaded on this host"));
		return nil;
	end
	if not module:may(permission, event) then
		module:log("warn", "Refused to %s of %s for %s: not permitted by its role", what, target, actor);
		origin.send(st.error_reply(stanza, "auth", "forbidden",
			own and "Your role does not allow managing your clients" or "Managing another account's clients needs an admin role"));
		return nil;
	end
	if not own and not usermanager.user_exists(username, host) then
		module:log("info", "%s asked to %s of %s: no such account", actor, what, target);
		origin.send(st.error_reply(stanza, "cancel", "item-not-found", "No such account"));
		return nil;
	end
	return cm, actor, target;
end

-- 1. mod_client_management's protocols, for admins about other accounts.

local function handle_admin_list(event, xmlns)
	local username, own = target_of(event);
	if not username or own then return nil; end -- the account itself: mod_client_management answers
	local cm, actor, target = checked(event, ":list-clients", "list the clients", username, false);
	if not cm then return true; end
	local origin, stanza = event.origin, event.stanza;
	local ok, clients, err = pcall(cm.get_active_clients, username);
	if not ok or type(clients) ~= "table" then
		module:log("error", "Admin %s listed the clients of %s: failed (%s)", actor, target, tostring(ok and err or clients));
		origin.send(st.error_reply(stanza, "wait", "internal-server-error", "Listing the clients failed"));
		return true;
	end
	local reply = st.reply(stanza):tag("clients", { xmlns = xmlns });
	local count = 0;
	local facts = network_facts(username);
	for _, client in ipairs(clients) do
		if type(client) == "table" and client.id ~= nil then
			reply:add_child(client_element(client, facts));
			count = count + 1;
		end
	end
	module:log("info", "Admin %s listed the clients of %s (%d clients)", actor, target, count);
	origin.send(reply);
	return true;
end

-- The module's own revoke, for admins: by exact id only (camctl resolves selectors itself), but
-- complete, unlike the module's; answered with the module's own errors.
local function handle_admin_revoke(event, xmlns)
	local username, own = target_of(event);
	if not username or own then return nil; end
	local cm, actor = checked(event, ":revoke-clients", "revoke a client", username, false);
	if not cm then return true; end
	local origin, stanza = event.origin, event.stanza;
	local id = stanza.tags[1].attr.id;
	if type(id) ~= "string" or id == "" then
		origin.send(st.error_reply(stanza, "modify", "bad-request", "Missing client id"));
		return true;
	end
	local report, condition, text = client_access.revoke({ host = host; actor = "Admin " .. actor; log = log }, username, id, nil);
	if report then record_revocation(username, id, "Admin " .. actor, report); end
	if not report then
		if condition == "gone" then
			origin.send(st.error_reply(stanza, "cancel", "item-not-found", "Client not found"));
		else
			origin.send(st.error_reply(stanza, "wait", "internal-server-error", text));
		end
	elseif report.after and client_access.describe(report.after).auth[1] then
		-- Something is left (the password): say it as the module does.
		origin.send(st.error_reply(stanza, "cancel", "service-unavailable", "Password reset required")
			:tag("password-reset-required", { xmlns = xmlns_manage_clients }):up());
	else
		origin.send(st.reply(stanza));
	end
	return true;
end

for _, xmlns in ipairs({ xmlns_manage_clients, xmlns_cam }) do
	-- Above mod_client_management (should it ever hook the same events), so that requests for
	-- other accounts are decided here; requests to oneself fall through untouched.
	module:hook("iq-get/bare/" .. xmlns .. ":list", function (event) return handle_admin_list(event, xmlns); end, 10);
	module:hook("iq-set/bare/" .. xmlns .. ":revoke", function (event) return handle_admin_revoke(event, xmlns); end, 10);
end

-- 2. urn:camctl:admin:0: the complete, verified revocation, for an account itself and for admins.

local function camctl_error(stanza, error_type, condition, text, extra)
	local reply = st.error_reply(stanza, error_type, condition, text);
	if extra then reply:tag(extra, { xmlns = xmlns_camctl }):up(); end
	return reply;
end

local function handle_camctl_revoke(event)
	local origin, stanza = event.origin, event.stanza;
	local username, own = target_of(event);
	if not username then return nil; end
	local permission = own and "client_management:manage-clients" or ":revoke-clients";
	local cm, actor, target = checked(event, permission, "revoke a client", username, own);
	if not cm then return true; end

	local request = stanza.tags[1];
	local id = request.attr.id;
	local expect = request:get_child("expect");
	if type(id) ~= "string" or id == "" or not expect then
		origin.send(st.error_reply(stanza, "modify", "bad-request", "A revoke needs the client's id and an <expect/> of what was listed"));
		return true;
	end
	local first_seen = expect.attr["first-seen"];
	local expected = {
		type = expect.attr.type;
		first_seen = first_seen and client_access.parse_iso8601(first_seen);
		software = expect:get_child_text("software");
		device = expect:get_child_text("device");
	};
	if first_seen and not expected.first_seen then
		origin.send(st.error_reply(stanza, "modify", "bad-request", "first-seen is not a UTC time like 2026-11-01T10:00:00Z"));
		return true;
	end

	local ctx = { host = host; actor = (own and "Account " or "Admin ") .. actor; log = log; requester = origin };
	local report, condition, text = client_access.revoke(ctx, username, id, expected);
	if not report then
		if condition == "gone" then
			origin.send(camctl_error(stanza, "cancel", "item-not-found", "That client is not listed (any more)", "gone"));
		elseif condition == "changed" then
			origin.send(camctl_error(stanza, "cancel", "conflict", "That id is listed for a different client now", "changed"));
		elseif condition == "forbidden" then
			origin.send(st.error_reply(stanza, "auth", "forbidden"));
		elseif condition == "module-not-loaded" then
			origin.send(st.error_reply(stanza, "cancel", "service-unavailable", "mod_client_management is not loaded on this host"));
		else
			module:log("error", "%s revoking %s of %s failed: %s", actor, id, target, tostring(text));
			origin.send(st.error_reply(stanza, "wait", "internal-server-error", text));
		end
		return true;
	end

	record_revocation(username, id, ctx.actor, report);
	local reply = st.reply(stanza):tag("revoked", {
		xmlns = xmlns_camctl;
		id = client_access.xml_text(id);
		["session-closed"] = tostring(report.session_closed);
		["fast-tokens-revoked"] = tostring(report.fast_tokens_revoked);
		["grant-revoked"] = tostring(report.grant_revoked);
	});
	if report.after then reply:add_child(client_element(report.after)); end
	origin.send(reply);
	-- The requester's own session goes only now, after it has its answer.
	client_access.close_deferred(report);
	return true;
end

module:hook("iq-set/bare/" .. xmlns_camctl .. ":revoke", handle_camctl_revoke);

-- 3. The host-wide listing for admins, paged (host_clients.lib.lua).
module:default_permission("prosody:admin", ":list-host-clients");
module:hook("iq-get/host/" .. xmlns_camctl .. ":clients", module:require("host_clients").handler({
	module = module; client_management = client_management; client_element = client_element;
	network_facts = network_facts;
}));

-- 4. urn:camctl:admin:0 <lockout/>, for admins: lockout.lib.lua, with the checks above.
module:require("lockout").install({ checked = checked; target_of = target_of; client_element = client_element; record_event = record_event });

-- 5. urn:camctl:admin:0 <account/> (status, disable reason, activity) and <unlock/>: account_admin.lib.lua.
module:require("account_admin").install({ checked = checked; target_of = target_of });
-- 6. urn:camctl:admin:0 <watch/>, for admins: the host's events as they happen (host_watch.lib.lua,
-- shared with camctl watch over the admin socket).
module:require("host_watch").install();

-- 7. urn:camctl:admin:0 <history/>, for admins: history_admin.lib.lua (history_log.lib.lua's reader,
-- which camctl also runs over the admin socket; permission :read-history).
module:require("history_admin").install();
