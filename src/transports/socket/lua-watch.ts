// The `>` chunk of `camctl watch` (lua/watch.lua on host_watch.lib.lua, which the companion shares,
// and on the host scan's library for its view of the admin connection): only this request carries that code. See ./lua.ts for how a chunk is made.
import hostWatchLua from "../../../prosody/mod_client_management_admin/host_watch.lib.lua";
import watchLua from "./lua/watch.lua";
import { HOST_SCAN_LIBRARY } from "./lua-bulk.js";
import { argsTable, luaModule } from "./lua.js";

/** ARGS { host, queue, heartbeat }. It answers with a promise that stays pending while camctl watches. */
export function watchChunk(args: { host: string; queue: number; heartbeatSeconds: number }): string {
  return (
    `>local ARGS = ${argsTable({ host: args.host, queue: String(args.queue), heartbeat: String(args.heartbeatSeconds) })}\n` +
    HOST_SCAN_LIBRARY +
    luaModule("host_watch", hostWatchLua, ["client_access"]) +
    luaModule("watch", watchLua, ["json_lines", "record_stream", "host_scan", "host_watch"]) +
    "return watch.start(ARGS, _ENV)"
  );
}
