// Every Lua file camctl sends, by name: for the tests, which load them into a plain Lua
// interpreter. A module of its own so that no request carries the files it does not send.
import accountStatusLua from "../../../prosody/mod_client_management_admin/account_status.lib.lua";
import accountLockoutLua from "../../../prosody/mod_client_management_admin/account_lockout.lib.lua";
import adminRequestsLua from "./lua/admin_requests.lua";
import clientAccessLua from "../../../prosody/mod_client_management_admin/client_access.lib.lua";
import clientNetworkLua from "../../../prosody/mod_client_management_admin/client_network.lib.lua";
import networkRecordLua from "../../../prosody/mod_client_management_admin/network_record.lib.lua";
import clientFilterLua from "../../../prosody/mod_client_management_admin/client_filter.lib.lua";
import hostScanLua from "./lua/host_scan.lua";
import historyLogLua from "../../../prosody/mod_client_management_admin/history_log.lib.lua";
import historyRequestLua from "./lua/history_request.lua";
import jsonLinesLua from "./lua/json_lines.lua";
import lockoutRequestLua from "./lua/lockout_request.lua";
import recordStreamLua from "./lua/record_stream.lua";
import streamContinueLua from "./lua/stream_continue.lua";
import watchLua from "./lua/watch.lua";
import hostWatchLua from "../../../prosody/mod_client_management_admin/host_watch.lib.lua";

/** The Lua sources by name, for tests that load one of them into a plain Lua interpreter. */
export const LUA_SOURCES = {
  client_access: clientAccessLua,
  json_lines: jsonLinesLua,
  record_stream: recordStreamLua,
  admin_requests: adminRequestsLua,
  stream_continue: streamContinueLua,
  client_filter: clientFilterLua,
  client_network: clientNetworkLua,
  network_record: networkRecordLua,
  host_scan: hostScanLua,
  account_lockout: accountLockoutLua,
  account_status: accountStatusLua,
  lockout_request: lockoutRequestLua,
  history_log: historyLogLua,
  history_request: historyRequestLua,
  host_watch: hostWatchLua,
  watch: watchLua,
} as const;


