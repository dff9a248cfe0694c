// The Lua chunks of an account's own facts (`user clients`) and of `user unlock` (see ./lua.ts
// for how a chunk is made): lua/account_request.lua on account_status.lib.lua and
// account_unlock.lib.lua, shared with the companion module.
import accountStatusLua from "../../../prosody/mod_client_management_admin/account_status.lib.lua";
import accountUnlockLua from "../../../prosody/mod_client_management_admin/account_unlock.lib.lua";
import accountRequestLua from "./lua/account_request.lua";
import { argsTable, LIBRARY, luaModule, type LuaArgs } from "./lua.js";

const ACCOUNT_LIBRARY =
  luaModule("account_status", accountStatusLua) +
  luaModule("account_unlock", accountUnlockLua, ["account_status"]) +
  luaModule("account_request", accountRequestLua, ["admin_requests", "account_status", "account_unlock", "record_stream"]);

/** The `>` chunk of account_request.status or .unlock for `jid`. Its reply is a record stream (trailer only). */
export function accountChunk(request: "status" | "unlock", jid: string, extra: LuaArgs = {}): string {
  return `>local ARGS = ${argsTable({ jid, ...extra })}\n${LIBRARY}${ACCOUNT_LIBRARY}return account_request.${request}(ARGS)`;
}
