// Lua sent to the admin socket's global environment (requests starting with ">").
//
// The code is camctl's own Lua files, imported as text (see src/lua-text.d.ts): the revocation
// logic shared with the companion module (prosody/mod_client_management_admin/client_access.lib.lua)
// and the socket's own pieces in ./lua/. Each file is a chunk that takes its dependencies as
// arguments and returns a table; a request wraps each in a function and calls it. The chunks of
// the host-wide scan and of the lockout are in ./lua-bulk.ts, loaded only by those commands.
//
// Values from the command line travel hex-encoded: the literal can only hold [0-9a-f], so no
// input, whatever characters it has, can close the string and become code.
import accountStatusLua from "../../../prosody/mod_client_management_admin/account_status.lib.lua";
import clientAccessLua from "../../../prosody/mod_client_management_admin/client_access.lib.lua";
import clientNetworkLua from "../../../prosody/mod_client_management_admin/client_network.lib.lua";
import adminRequestsLua from "./lua/admin_requests.lua";
import historyLogLua from "../../../prosody/mod_client_management_admin/history_log.lib.lua";
import jsonLinesLua from "./lua/json_lines.lua";
import recordStreamLua from "./lua/record_stream.lua";
import streamContinueLua from "./lua/stream_continue.lua";

export function luaHexString(value: string): string {
  return `"${Buffer.from(value, "utf8").toString("hex")}"`;
}

/** `local <name> = (function(...) <source> end)(<args>)`: one file as a local table. */
export function luaModule(name: string, source: string, args: string[] = []): string {
  return `local ${name} = (function(...)\n${source}\nend)(${args.join(", ")})\n`;
}

export const LIBRARY =
  luaModule("client_access", clientAccessLua) +
  luaModule("json_lines", jsonLinesLua, ["client_access"]) +
  luaModule("record_stream", recordStreamLua, ["json_lines"]) +
  luaModule("history_log", historyLogLua) +
  luaModule("client_network", clientNetworkLua, ["client_access"]) +
  luaModule("admin_requests", adminRequestsLua, ["client_access", "json_lines", "record_stream", "history_log", "client_network"]);

/** Arguments of a request: names are camctl's own identifiers; absent values are left out. */
export type LuaArgs = Record<string, string | null | undefined>;

export function argsTable(args: LuaArgs): string {
  const fields = Object.entries(args)
    .filter((entry): entry is [string, string] => typeof entry[1] === "string")
    .map(([name, value]) => {
      if (!/^[a-z_]+$/.test(name)) throw new Error(`not a Lua argument name: ${name}`);
      return `${name} = ${luaHexString(value)}`;
    });
  return `{ ${fields.join(", ")} }`;
}

/** Who runs camctl on this machine, for Prosody's log: the OS user, and $SUDO_USER when set. */
export interface Operator {
  user: string | undefined;
  sudoUser: string | undefined;
}

/** The longest OS user name sent (the server's Lua cuts and filters again: admin_requests.actor). */
export const MAX_OPERATOR_NAME = 64;

/** The operator as request arguments (os_user, sudo_user), each cut to MAX_OPERATOR_NAME characters. */
export function operatorArgs(o: Operator | undefined): LuaArgs {
  const cap = (s: string | undefined) => (s === undefined || s === "" ? null : Array.from(s.slice(0, MAX_OPERATOR_NAME * 2)).slice(0, MAX_OPERATOR_NAME).join(""));
  return { os_user: cap(o?.user), sudo_user: cap(o?.sudoUser) };
}

/** FNV-1a, 32 bits, as 8 hex digits: tells two libraries apart (not a security measure; node:crypto would cost start-up time). */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/**
 * Where the first request of a connection leaves the library for the next ones: a variable of
 * this admin connection's own shell environment (Prosody keeps one per connection), so a bulk
 * apply sends and compiles the library once, not once per item. The name carries a hash of the
 * code, so a connection never uses another camctl's library.
 */
export const LIBRARY_VARIABLE: string =
  // The bundle has it worked out at build time (scripts/build.mjs, esbuild's define): hashing the
  // library costs start-up a couple of milliseconds.
  typeof CAMCTL_LIBRARY_VARIABLE === "string" ? CAMCTL_LIBRARY_VARIABLE : `camctl_library_${fnv1a(LIBRARY)}`;
declare const CAMCTL_LIBRARY_VARIABLE: string | undefined;

/**
 * The `>` chunk that runs admin_requests.<request>(ARGS). Its reply is a record stream. With
 * `cached`, the library this connection's first request left behind is used (see LIBRARY_VARIABLE).
 */
export function requestChunk(request: "list" | "revoke", args: LuaArgs, cached = false): string {
  if (cached) return `>local ARGS = ${argsTable(args)}\nreturn ${LIBRARY_VARIABLE}.${request}(ARGS)`;
  return `>local ARGS = ${argsTable(args)}\n${LIBRARY}${LIBRARY_VARIABLE} = admin_requests\nreturn admin_requests.${request}(ARGS)`;
}

/**
 * The `>` chunk of a listing that also answers the account's facts in its trailer
 * (admin_requests.list with account_status.lib.lua): `user clients` needs both, and one request
 * saves a second chunk, round trip and reply. With `cached` the library has no account_status:
 * a plain listing, and the facts are asked for on their own.
 */
export function listChunk(args: LuaArgs, cached = false): string {
  if (cached) return requestChunk("list", args, true);
  return `>local ARGS = ${argsTable(args)}\n${LIBRARY}${LIBRARY_VARIABLE} = admin_requests\n` +
    `${luaModule("account_status", accountStatusLua)}return admin_requests.list(ARGS, account_status)`;
}

/**
 * The `>` chunk that runs admin_requests.revoke_many(ARGS, ITEMS): `items` are revoke's arguments,
 * one table each. With `cached`, as requestChunk.
 */
export function revokeManyChunk(args: LuaArgs, items: LuaArgs[], cached = false): string {
  const head = `>local ARGS = ${argsTable(args)}\nlocal ITEMS = { ${items.map(argsTable).join(",\n")} }\n`;
  if (cached) return `${head}return ${LIBRARY_VARIABLE}.revoke_many(ARGS, ITEMS, _ENV)`;
  return `${head}${LIBRARY}${LIBRARY_VARIABLE} = admin_requests\nreturn admin_requests.revoke_many(ARGS, ITEMS, _ENV)`;
}

/** The `>` chunk that asks for the next reply of a record stream whose trailer said more. */
export const CONTINUE_CHUNK = `>${streamContinueLua}`;
