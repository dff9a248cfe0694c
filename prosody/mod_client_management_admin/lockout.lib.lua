-- urn:camctl:admin:0 <lockout/>: an admin locks another local account out over XMPP (camctl
-- user lockout --jid admin@...). Loaded by mod_client_management_admin, which hands over the
-- checks and the <client/> element it uses for its other requests; the lockout itself is
-- account_lockout.lib.lua, which camctl also runs over the admin socket. README.md beside this
-- file has the protocol.
--
-- Permission (Prosody 13 roles): client_management_admin:lockout-accounts, default prosody:admin
-- (and so prosody:operator). An account cannot lock itself out this way: camctl's own session
-- would be closed before it could read the answer, and nobody would be left to say what was done.

local st = require "prosody.util.stanza";
local client_access = module:require("client_access");
local account_lockout = module:require("account_lockout");
local xml_text = client_access.xml_text;

local xmlns_camctl = "urn:camctl:admin:0";

local M = {};

--- helpers: { checked = function(event, permission, what, username, own), target_of = function(event),
---            client_element = function(client), record_event = function(username, type, detail) }
---            from mod_client_management_admin.lua.
function M.install(helpers)
	module:default_permission("prosody:admin", ":lockout-accounts");

	module:hook("iq-set/bare/" .. xmlns_camctl .. ":lockout", function (event)
		local origin, stanza = event.origin, event.stanza;
		local username, own = helpers.target_of(event);
		if not username then return nil; end
		if own then
			module:log("warn", "Refused a lockout of %s requested by that account itself", origin.full_jid or "?");
			origin.send(st.error_reply(stanza, "cancel", "not-allowed", "An account cannot lock itself out; ask an admin, or use camctl --socket on the server"));
			return true;
		end
		local cm, actor = helpers.checked(event, ":lockout-accounts", "lock out", username, false);
		if not cm then return true; end

		local request = stanza.tags[1];
		local disable = request:get_child("disable") ~= nil;
		local new_password = request:get_child_text("new-password");
		if (disable and new_password) or new_password == "" then
			origin.send(st.error_reply(stanza, "modify", "bad-request", "Give <disable/> or a non-empty <new-password/>, not both"));
			return true;
		end

		local ctx = { host = module.host; actor = "Admin " .. actor; log = function (level, fmt, ...) return module:log(level, fmt, ...); end };
		local reason = request:get_child_text("reason");
		local report, condition, text = account_lockout.lockout(ctx, username, { disable = disable; new_password = new_password; reason = reason });
		new_password = nil;
		if not report then
			if condition == "disable-unsupported" or condition == "password-unsupported" then
				origin.send(st.error_reply(stanza, "cancel", "feature-not-implemented", text):tag(condition, { xmlns = xmlns_camctl }):up());
			elseif condition == "forbidden" then
				origin.send(st.error_reply(stanza, "auth", "forbidden"));
			elseif condition == "module-not-loaded" then
				origin.send(st.error_reply(stanza, "cancel", "service-unavailable", "mod_client_management is not loaded on this host"));
			else
				module:log("error", "%s locking out %s@%s failed: %s", actor, username, module.host, tostring(text));
				origin.send(st.error_reply(stanza, "wait", "internal-server-error", text));
			end
			return true;
		end

		if helpers.record_event then
			helpers.record_event(username, "account-locked-out", account_lockout.event_fields(report, ctx.actor, reason));
		end
		local attrs = {
			xmlns = xmlns_camctl;
			disabled = tostring(report.disabled);
			["already-disabled"] = report.already_disabled and "true" or nil;
			["password-changed"] = tostring(report.password_changed);
			["grants-revoked"] = tostring(report.grants_revoked);
			["fast-tokens-revoked"] = tostring(report.fast_tokens_revoked);
			["sessions-closed"] = tostring(report.sessions_closed);
		};
		if report.enabled ~= nil then attrs.enabled = tostring(report.enabled); end
		local reply = st.reply(stanza):tag("locked-out", attrs);
		for _, entry in ipairs(report.entries) do
			if entry.err then
				reply:tag("entry", { id = xml_text(entry.id); error = entry.err });
				if entry.text then reply:text(xml_text(entry.text)); end
				reply:up();
			else
				reply:tag("entry", {
					id = xml_text(entry.id);
					["session-closed"] = tostring(entry.session_closed);
					["fast-tokens-revoked"] = tostring(entry.fast_tokens_revoked);
					["grant-revoked"] = tostring(entry.grant_revoked);
				}):up();
			end
		end
		if report.reason then reply:text_tag("reason", xml_text(report.reason)); end
		for _, failure in ipairs(report.failures) do reply:text_tag("failure", xml_text(failure)); end
		reply:tag("clients");
		for _, client in ipairs(report.after) do
			if type(client) == "table" and client.id ~= nil then reply:add_child(helpers.client_element(client)); end
		end
		reply:up();
		origin.send(reply);
		return true;
	end);
end

return M;
