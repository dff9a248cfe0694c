-- account_unlock: re-enables an account a lockout disabled (camctl user unlock). Only the disable
-- is undone: grants, FAST tokens and clients the lockout revoked stay revoked, and a password the
-- lockout set stays the password.
--
-- Like account_lockout.lib.lua, one implementation with two callers: camctl sends it over the
-- admin socket (src/transports/socket/lua/account_request.lua) with account_status as the chunk's
-- argument, and mod_client_management_admin loads it with module:require for admins over XMPP
-- (account_admin.lib.lua).
local account_status = ...;
if account_status == nil then account_status = module:require("account_status"); end

local M = {};

--- Re-enables username@host. ctx: { host, actor, log }.
--- Returns { enabled_now = true (it was disabled and is enabled now) | false (it was enabled
--- already: nothing done), enabled = whether it can log in afterwards (nil: unknown),
--- was = the facts before (account_status.facts: disabled_reason, disabled_at, ...) }
--- or nil, condition, text: "enable-unsupported", "internal-server-error".
function M.unlock(ctx, username)
	local host = ctx.host;
	local usermanager = require "prosody.core.usermanager";
	local provider = prosody.hosts[host] and prosody.hosts[host].users or {};
	if type(provider.enable) ~= "function" then
		return nil, "enable-unsupported", "this host's authentication provider cannot enable accounts";
	end
	local was = account_status.facts(host, username, false);
	local report = { was = was; enabled_now = false };
	if was.status ~= "enabled" then
		local ok, done, err = pcall(usermanager.enable_user, username, host);
		if not ok or not done then
			return nil, "internal-server-error", "enabling the account failed: " .. tostring(ok and err or done);
		end
		report.enabled_now = true;
	end
	local ok, enabled = pcall(usermanager.user_is_enabled, username, host);
	if ok and type(enabled) == "boolean" then report.enabled = enabled; end
	ctx.log("info", "%s unlocked %s@%s: %s%s", ctx.actor, username, host,
		report.enabled_now and "enabled the account" or "it was enabled already, nothing done",
		was.disabled_reason and (" (disabled for: " .. string.format("%q", was.disabled_reason) .. ")") or "");
	return report;
end

return M;
