// Faults planted in a sandbox Prosody as test modules (startSandbox's `testModules`).

/**
 * A test module (sandbox `testModules`) under which revoking a grant of an account whose name starts
 * with "doomed" fails in mod_tokenauth, as a store that refuses writes would: an honest per-item
 * failure on the server side.
 */
export const REVOKE_FAULT = `
local tokenauth = module:depends("tokenauth")
local revoke_grant = tokenauth.revoke_grant
tokenauth.revoke_grant = function (username, grant_id, ...)
  if tostring(username):match("^doomed") then return nil, "the grant store refuses writes (test fault)" end
  return revoke_grant(username, grant_id, ...)
end
function module.unload() tokenauth.revoke_grant = revoke_grant end
`;
