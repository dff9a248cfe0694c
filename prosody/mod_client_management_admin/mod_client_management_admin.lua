-- mod_client_management_admin: lets server admins list and revoke the clients of OTHER local
-- accounts over XMPP, with the same protocol mod_client_management speaks for the account itself.
--
-- Shipped with camctl, in its prosody/ directory. Requests in either
-- namespace, addressed to another account's bare JID on a host that loads this module:
--
--   <iq type="get" to="bob@example.com"><list xmlns="xmpp:prosody.im/protocol/manage-clients"/></iq>
--   <iq type="set" to="bob@example.com"><revoke xmlns="urn:xmpp:cam:0" id="grant/..."/></iq>
--
-- are answered for accounts whose role has the permissions below (default: prosody:admin and
-- roles that inherit it, e.g. prosody:operator), using mod_client_management's public API
-- (get_active_clients / revoke_client_access). Everyone else gets <forbidden/>. Requests to the
-- sender's own account are left untouched: mod_client_management answers them as always.
-- Every admin action, allowed or refused, is logged with actor and target.
--
-- Install: put this directory in one of Prosody's plugin_paths and add "client_management_admin"
-- to modules_enabled of each host whose accounts admins should manage (next to
-- "client_management"). Permissions (Prosody 13 roles) can be changed with add_permissions /
-- remove_permissions, e.g. to let a custom role only list:
--   add_permissions = { ["example:auditor"] = { "client_management_admin:list-clients" } }

local st = require "prosody.util.stanza";
local dt = require "prosody.util.datetime";
local jid_split = require "prosody.util.jid".split;
local usermanager = require "prosody.core.usermanager";

local xmlns_manage_clients = "xmpp:prosody.im/protocol/manage-clients";
local xmlns_cam = "urn:xmpp:cam:0";

local host = module.host;

module:default_permission("prosody:admin", ":list-clients");
module:default_permission("prosody:admin", ":revoke-clients");

-- mod_client_management of this host, looked up per request so reloads are followed.
local function client_management()
	local h = prosody.hosts[host];
	local cm = h and h.modules and h.modules.client_management;
	if cm and type(cm.get_active_clients) == "function" and type(cm.revoke_client_access) == "function" then
		return cm;
	end
	return nil;
end

-- Who is asking, for the log
local function actor_of(event)
	return event.stanza.attr.from or (event.origin and event.origin.full_jid) or "?";
end

-- Element names we put under <auth/>: the keys of the client's 'active' table that are
-- authentication methods. Anything that is not a plain XML name is skipped, never emitted.
local function auth_methods(active)
	local methods = {};
	for key in pairs(active or {}) do
		if type(key) == "string" and key ~= "connected" and key:match("^[%a_][%w%-%._]*$") then
			table.insert(methods, key);
		end
	end
	table.sort(methods);
	return methods;
end

local function timestamp(t)
	t = tonumber(t);
	if t and t == t and t ~= math.huge and t ~= -math.huge then
		return dt.datetime(math.floor(t));
	end
	return nil;
end

local function text_child(el, name, value)
	if type(value) == "string" then
		el:text_tag(name, value);
	end
end

local function client_element(client)
	local active = type(client.active) == "table" and client.active or {};
	local el = st.stanza("client", {
		id = tostring(client.id);
		type = client.type == "access" and "access" or "session";
		connected = active.connected and "true" or "false";
	});
	local first_seen, last_seen, expires = timestamp(client.first_seen), timestamp(client.last_seen), timestamp(client.expires);
	if first_seen then el:text_tag("first-seen", first_seen); end
	if last_seen then el:text_tag("last-seen", last_seen); end
	if expires then el:text_tag("expires", expires); end
	local methods = auth_methods(active);
	if methods[1] then
		el:tag("auth");
		for _, method in ipairs(methods) do
			el:tag(method):up();
		end
		el:up();
	end
	local ua = type(client.user_agent) == "table" and client.user_agent or {};
	if ua.software or ua.software_version or ua.uri or ua.device then
		el:tag("user-agent");
		text_child(el, "software", ua.software);
		text_child(el, "version", ua.software_version);
		text_child(el, "uri", ua.uri);
		text_child(el, "device", ua.device);
		el:up();
	end
	-- Never copied: active.grant (holds token secrets) and internal fields.
	return el;
end

-- Common checks. Returns the target username, or nil when the request was answered (or is not ours).
local function admin_request(event, permission, what)
	local origin, stanza = event.origin, event.stanza;
	if event.to_self then
		return nil, "self"; -- mod_client_management answers the account itself
	end
	local username, to_host = jid_split(stanza.attr.to);
	if not username or to_host ~= host then
		return nil, "not-ours";
	end
	local target = username.."@"..host;
	local actor = actor_of(event);
	-- Only local accounts may act; remote entities are never admins here.
	if origin.type ~= "c2s" or not origin.username or not prosody.hosts[origin.host] then
		module:log("warn", "Refused to %s of %s for non-local entity %s", what, target, actor);
		origin.send(st.error_reply(stanza, "auth", "forbidden"));
		return nil, "answered";
	end
	if not module:may(permission, event) then
		module:log("warn", "Refused to %s of %s for %s: not permitted by its role", what, target, actor);
		origin.send(st.error_reply(stanza, "auth", "forbidden", "Managing another account's clients needs an admin role"));
		return nil, "answered";
	end
	if not usermanager.user_exists(username, host) then
		module:log("info", "Admin %s asked to %s of %s: no such account", actor, what, target);
		origin.send(st.error_reply(stanza, "cancel", "item-not-found", "No such account"));
		return nil, "answered";
	end
	local cm = client_management();
	if not cm then
		module:log("error", "Admin %s asked to %s of %s, but mod_client_management is not loaded on %s", actor, what, target, host);
		origin.send(st.error_reply(stanza, "cancel", "service-unavailable", "mod_client_management is not loaded on this host"));
		return nil, "answered";
	end
	return username, cm, actor, target;
end

local function handle_list(event, xmlns)
	local username, cm, actor, target = admin_request(event, ":list-clients", "list the clients");
	if not username then
		return cm == "answered" or nil;
	end
	local origin, stanza = event.origin, event.stanza;
	local ok, clients, err = pcall(cm.get_active_clients, username);
	if not ok or not clients then
		module:log("error", "Admin %s listed the clients of %s: failed (%s)", actor, target, tostring(ok and err or clients));
		origin.send(st.error_reply(stanza, "wait", "internal-server-error"));
		return true;
	end
	local reply = st.reply(stanza):tag("clients", { xmlns = xmlns });
	local count = 0;
	for _, client in ipairs(clients) do
		if type(client) == "table" and client.id ~= nil then
			reply:add_child(client_element(client));
			count = count + 1;
		end
	end
	module:log("info", "Admin %s listed the clients of %s (%d clients)", actor, target, count);
	origin.send(reply);
	return true;
end

local function handle_revoke(event, xmlns)
	local username, cm, actor, target = admin_request(event, ":revoke-clients", "revoke a client");
	if not username then
		return cm == "answered" or nil;
	end
	local origin, stanza = event.origin, event.stanza;
	local selector = stanza.tags[1].attr.id;
	if type(selector) ~= "string" or selector == "" then
		origin.send(st.error_reply(stanza, "modify", "bad-request", "Missing client id"));
		return true;
	end
	local ok, done, reason = pcall(cm.revoke_client_access, username, selector);
	if not ok then
		reason, done = tostring(done), nil;
	end
	if done then
		module:log("info", "Admin %s revoked %s of %s", actor, selector, target);
		origin.send(st.reply(stanza));
	elseif reason == "password-reset-required" then
		module:log("info", "Admin %s revoked %s of %s: sessions closed and tokens revoked; password reset required", actor, selector, target);
		origin.send(st.error_reply(stanza, "cancel", "service-unavailable", "Revoking this client requires a password change")
			:tag("password-reset-required", { xmlns = xmlns }):up());
	elseif reason == "item-not-found" then
		module:log("info", "Admin %s tried to revoke %s of %s: no such client", actor, selector, target);
		origin.send(st.error_reply(stanza, "cancel", "item-not-found"));
	else
		module:log("error", "Admin %s tried to revoke %s of %s: failed (%s)", actor, selector, target, tostring(reason));
		origin.send(st.error_reply(stanza, "wait", "internal-server-error"));
	end
	return true;
end

-- Above mod_client_management (should it ever hook the same events), so that requests for other
-- accounts are decided here; requests to oneself fall through untouched.
for _, xmlns in ipairs({ xmlns_manage_clients, xmlns_cam }) do
	module:hook("iq-get/bare/"..xmlns..":list", function (event) return handle_list(event, xmlns); end, 10);
	module:hook("iq-set/bare/"..xmlns..":revoke", function (event) return handle_revoke(event, xmlns); end, 10);
end
