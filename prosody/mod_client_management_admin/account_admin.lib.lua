-- urn:camctl:admin:0 <account/> and <unlock/>: an account's own facts (account_status.lib.lua)
-- and re-enabling a locked-out account (account_unlock.lib.lua), over XMPP. Loaded by
-- mod_client_management_admin with the checks it uses for its other requests. README.md beside
-- this file has the protocol.
--
--   <iq type='get' to='bob@example.com'><account xmlns='urn:camctl:admin:0'/></iq>
--     -> <account status='enabled|disabled' disabled-at='...' password-updated='...' last-activity='...'
--          activity-source='account_activity|lastlog2'><disabled-reason>...</disabled-reason></account>
--     Permission: the account itself (client_management:manage-clients), or
--     client_management_admin:list-clients for another account.
--   <iq type='set' to='bob@example.com'><unlock xmlns='urn:camctl:admin:0'/></iq>
--     -> <unlocked enabled-now='true|false' enabled='true|false'/>; the facts before as <account/>
--     inside. Permission: client_management_admin:unlock-accounts (default prosody:admin); an
--     account cannot unlock itself (a disabled account cannot log in to ask).
local st = require "prosody.util.stanza";
local client_access = module:require("client_access");
local account_status = module:require("account_status");
local account_unlock = module:require("account_unlock");
local xml_text, iso8601 = client_access.xml_text, client_access.iso8601;

local xmlns_camctl = "urn:camctl:admin:0";

local M = {};

local function account_element(f)
	local el = st.stanza("account", {
		xmlns = xmlns_camctl;
		status = f.status;
		["disabled-at"] = f.disabled_at and iso8601(f.disabled_at) or nil;
		["password-updated"] = f.password_updated and iso8601(f.password_updated) or nil;
		["last-activity"] = f.last_activity and iso8601(f.last_activity) or nil;
		["activity-source"] = f.activity_source or nil;
	});
	if f.disabled_reason then el:text_tag("disabled-reason", xml_text(f.disabled_reason)); end
	return el;
end

--- helpers: { checked, target_of } from mod_client_management_admin.lua.
function M.install(helpers)
	module:default_permission("prosody:admin", ":unlock-accounts");

	module:hook("iq-get/bare/" .. xmlns_camctl .. ":account", function (event)
		local username, own = helpers.target_of(event);
		if not username then return nil; end
		local permission = own and "client_management:manage-clients" or ":list-clients";
		local cm = helpers.checked(event, permission, "read the account status", username, own);
		if not cm then return true; end
		event.origin.send(st.reply(event.stanza):add_child(account_element(account_status.facts(module.host, username))));
		return true;
	end);

	module:hook("iq-set/bare/" .. xmlns_camctl .. ":unlock", function (event)
		local origin, stanza = event.origin, event.stanza;
		local username, own = helpers.target_of(event);
		if not username then return nil; end
		if own then
			origin.send(st.error_reply(stanza, "cancel", "not-allowed", "An account cannot unlock itself"));
			return true;
		end
		local cm, actor = helpers.checked(event, ":unlock-accounts", "unlock the account", username, false);
		if not cm then return true; end
		local ctx = { host = module.host; actor = "Admin " .. actor; log = function (level, fmt, ...) return module:log(level, fmt, ...); end };
		local report, condition, text = account_unlock.unlock(ctx, username);
		if not report then
			if condition == "enable-unsupported" then
				origin.send(st.error_reply(stanza, "cancel", "feature-not-implemented", text):tag(condition, { xmlns = xmlns_camctl }):up());
			else
				origin.send(st.error_reply(stanza, "wait", "internal-server-error", text));
			end
			return true;
		end
		local attrs = { xmlns = xmlns_camctl; ["enabled-now"] = tostring(report.enabled_now) };
		if report.enabled ~= nil then attrs.enabled = tostring(report.enabled); end
		origin.send(st.reply(stanza):tag("unlocked", attrs):add_child(account_element(report.was)));
		return true;
	end);
end

return M;
