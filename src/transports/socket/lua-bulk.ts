// The Lua chunks of the host-wide listing and of `user lockout` (see ./lua.ts for how a chunk is
// made): a module of its own, so that the per-account requests (and start-up) do not carry them.
import accountStatusLua from "../../../prosody/mod_client_management_admin/account_status.lib.lua";
import accountLockoutLua from "../../../prosody/mod_client_management_admin/account_lockout.lib.lua";
import clientAccessLua from "../../../prosody/mod_client_management_admin/client_access.lib.lua";
import clientNetworkLua from "../../../prosody/mod_client_management_admin/client_network.lib.lua";
import clientFilterLua from "../../../prosody/mod_client_management_admin/client_filter.lib.lua";
import hostScanLua from "./lua/host_scan.lua";
import jsonLinesLua from "./lua/json_lines.lua";
import lockoutRequestLua from "./lua/lockout_request.lua";
import recordStreamLua from "./lua/record_stream.lua";
import { argsTable, LIBRARY, luaModule, type LuaArgs } from "./lua.js";

// The host-wide listing needs neither the revocation nor the per-account requests, and the
// per-account requests not the scan: each request carries only its own code.
export const HOST_SCAN_LIBRARY =
  luaModule("client_access", clientAccessLua) +
  luaModule("json_lines", jsonLinesLua, ["client_access"]) +
  luaModule("record_stream", recordStreamLua, ["json_lines"]) +
  luaModule("client_filter", clientFilterLua, ["client_access"]) +
  luaModule("client_network", clientNetworkLua, ["client_access"]) +
  luaModule("account_status", accountStatusLua) +
  luaModule("host_scan", hostScanLua, ["client_access", "json_lines", "record_stream", "client_filter", "client_network", "account_status"]);

/**
 * The `>` chunk of `user lockout` (lua/lockout_request.lua on account_lockout.lib.lua): only this
 * request carries that code. Its reply is a record stream.
 */
export function lockoutChunk(args: LuaArgs): string {
  return (
    `>local ARGS = ${argsTable(args)}\n${LIBRARY}` +
    luaModule("account_lockout", accountLockoutLua, ["client_access"]) +
    luaModule("lockout_request", lockoutRequestLua, ["admin_requests", "client_access", "account_lockout", "json_lines", "record_stream"]) +
    "return lockout_request.lockout(ARGS)"
  );
}

/**
 * The `>` chunk of a host-wide listing (lua/host_scan.lua): ARGS { host, filter (JSON text) }.
 * It answers later, with a promise; `_ENV` (this admin connection's shell environment) lets the
 * scan find its own connection, to stop when it goes away.
 */
export function hostScanChunk(args: { host: string; filter: string }): string {
  return `>local ARGS = ${argsTable(args)}\n${HOST_SCAN_LIBRARY}return host_scan.start(ARGS, _ENV)`;
}

