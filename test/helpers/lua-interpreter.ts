// Runs Lua in a plain Lua 5.4 interpreter (what Prosody 13 runs on), for tests of camctl's Lua
// files by name: each file is loaded the way a request loads it (src/transports/socket/lua.ts, luaModule).
import { execFileSync } from "node:child_process";
import { luaModule } from "../../src/transports/socket/lua.js";
import { LUA_SOURCES } from "../../src/transports/socket/lua-sources.js";

/** The interpreter's name, or undefined when none is installed (tests skip then). */
export const LUA = ["lua5.4", "lua"].find((bin) => {
  try {
    return execFileSync(bin, ["-v"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).includes("5.4");
  } catch {
    return false;
  }
});

export const NO_LUA = LUA ? false : "no Lua 5.4 interpreter";

/** The chunk arguments each file takes, in the order lua.ts passes them. */
const DEPENDENCIES: Record<keyof typeof LUA_SOURCES, string[]> = {
  client_access: [],
  json_lines: ["client_access"],
  record_stream: ["json_lines"],
  admin_requests: ["client_access", "json_lines", "record_stream", "history_log", "client_network"],
  client_network: ["client_access"],
  network_record: [],
  stream_continue: [],
  account_lockout: ["client_access"],
  lockout_request: ["admin_requests", "client_access", "account_lockout", "json_lines", "record_stream"],
  client_filter: ["client_access"],
  account_status: [],
  host_scan: ["client_access", "json_lines", "record_stream", "client_filter", "client_network", "account_status"],
  history_log: [],
  history_request: ["admin_requests", "history_log", "json_lines", "record_stream"],
  host_watch: ["client_access"],
  watch: ["json_lines", "record_stream", "host_scan", "host_watch"],
};

/** Lua that defines the named files as locals (with what they depend on), as a request does. */
export function luaFiles(...names: Array<keyof typeof LUA_SOURCES>): string {
  const wanted = new Set<keyof typeof LUA_SOURCES>();
  const add = (name: keyof typeof LUA_SOURCES) => {
    for (const dep of DEPENDENCIES[name]) add(dep as keyof typeof LUA_SOURCES);
    wanted.add(name);
  };
  names.forEach(add);
  return [...wanted].map((name) => luaModule(name, LUA_SOURCES[name], DEPENDENCIES[name])).join("");
}

/** Runs `script` and returns what it wrote to stdout; a Lua error fails the test with its message. */
export function runLua(script: string): string {
  return execFileSync(LUA!, ["-"], { input: script, encoding: "utf8" });
}

/** A Lua string literal holding exactly the bytes of `s` (UTF-8), for test inputs. */
export function luaBytes(s: string | Buffer): string {
  const bytes = typeof s === "string" ? Buffer.from(s, "utf8") : s;
  return `"${[...bytes].map((b) => `\\${b}`).join("")}"`;
}
