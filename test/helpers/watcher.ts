// camctl watch in the integration tests: a watcher process whose output is followed line by line,
// and the count of the server's handlers of the events a watcher hooks.
import assert from "node:assert/strict";
import { runCamctl, startCamctl, type StartedCamctl } from "./run-camctl.js";
import type { Sandbox } from "../sandbox/sandbox.js";

/** Ends every watcher still running (SIGKILL). */
export function killAll(started: StartedCamctl[]): void {
  for (const run of started) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGKILL");
}

export interface Watcher {
  run: StartedCamctl;
  /** Resolves once camctl said the server's hooks are in place. */
  ready: Promise<void>;
  lines: string[];
  stderr: () => string;
  /** Resolves once `pred` holds for the lines so far (checked on every new output, stdout or stderr). */
  until(pred: (lines: string[]) => boolean): Promise<void>;
}

/** Starts `camctl <args>` (a watch), keeping it in `started` so the file's after() can end it. */
export function startWatcher(args: string[], env: NodeJS.ProcessEnv, started: StartedCamctl[]): Watcher {
  const run = startCamctl(args, { env, timeoutMs: 120_000 });
  started.push(run);
  const lines: string[] = [];
  let stderr = "";
  let partial = "";
  const waiters: Array<{ pred: (l: string[]) => boolean; resolve: () => void }> = [];
  const check = () => {
    for (const w of waiters.splice(0)) {
      if (w.pred(lines)) w.resolve();
      else waiters.push(w);
    }
  };
  run.child.stdout!.on("data", (d: Buffer | string) => {
    partial += String(d);
    const parts = partial.split("\n");
    partial = parts.pop()!;
    lines.push(...parts);
    check();
  });
  const ready = new Promise<void>((resolve, reject) => {
    run.child.stderr!.on("data", (d: Buffer | string) => {
      stderr += String(d);
      check();
      if (/watching /.test(stderr)) resolve();
    });
    void run.result.then((r) => reject(new Error(`camctl ended before watching: ${r.code} ${r.stderr}`)));
  });
  ready.catch(() => undefined);
  return {
    run,
    ready,
    lines,
    stderr: () => stderr,
    until: (pred) =>
      new Promise<void>((resolve, reject) => {
        if (pred(lines)) return resolve();
        waiters.push({ pred, resolve });
        void run.result.then(() => (pred(lines) ? resolve() : reject(new Error(`camctl ended first: ${stderr}\n${lines.join("\n")}`))));
      }),
  };
}

export type Event = Record<string, unknown>;
export const parsed = (lines: string[]): Event[] => lines.filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Event);
export const has = (pred: (e: Event) => boolean) => (lines: string[]) => parsed(lines).some(pred);

/** The handlers of the events a watcher hooks, counted in the server. */
export async function handlerCount(sb: Sandbox): Promise<number> {
  const r = await sb.lua(`
    local n = 0
    local function count(events, name) local l = events.get_handlers(name); n = n + (l and #l or 0) end
    for _, name in ipairs({ "authentication-success", "authentication-failure", "client_management/new-client",
      "resource-bind", "resource-unbind", "camctl/client-revoked", "camctl/account-locked-out" }) do
      count(prosody.hosts["${sb.host}"].events, name)
    end
    for _, name in ipairs({ "user-disabled", "user-enabled", "user-password-changed", "admin-disconnected" }) do
      count(prosody.events, name)
    end
    return tostring(n)`);
  return Number(r.trim());
}

/** Waits until the server's handler count is `n` (the server sees a vanished connection a moment later). */
export async function handlersBecome(sb: Sandbox, n: number): Promise<number> {
  let now = await handlerCount(sb);
  for (let i = 0; i < 100 && now !== n; i++) {
    await new Promise((r) => setTimeout(r, 100));
    now = await handlerCount(sb);
  }
  return now;
}


/**
 * Fires `n` large events (8 KB each) on the host at once, through the real hooks: `revoked` of
 * client/1 … client/n of flood@host. What a reader that stopped reading cannot keep up with.
 */
export async function floodEvents(sb: Sandbox, n: number): Promise<void> {
  await sb.lua(`
    local events = prosody.hosts["${sb.host}"].events
    local big = string.rep("x", 8000)
    for i = 1, ${n} do
      events.fire_event("camctl/client-revoked", { username = "flood", id = "client/" .. i, detail = big })
    end
    return "ok"`);
}

/** The fields of every record, in order (docs/watch.md). */
export const RECORD_FIELDS = ["time", "host", "account", "event", "ip", "clientId", "software", "device", "mechanism", "detail", "dropped"];

/**
 * Gives `jid` a grant and revokes it with camctl over the socket, waits for the watcher `w` to
 * report it, then ends the watcher with Ctrl-C (exit 0). Returns the grant and every record.
 */
export async function revokeThenInterrupt(sb: Sandbox, w: Watcher, jid: string): Promise<{ grant: string; events: Event[] }> {
  const grant = await sb.createGrant(jid, { software: "Webmail" });
  const revoke = await runCamctl(["user", "revoke_client", jid, grant, "--yes", "--socket", sb.socketPath]);
  assert.equal(revoke.code, 0, revoke.stderr);
  await w.until(has((e) => e.event === "revoked"));
  w.run.child.kill("SIGINT");
  const r = await w.run.result;
  assert.equal(r.code, 0, r.stderr);
  const events = parsed(w.lines);
  for (const e of events) assert.deepEqual(Object.keys(e), RECORD_FIELDS);
  return { grant, events };
}
