// camctl watch <host>: a live stream of a virtual host's logins, failed logins, new clients,
// sessions, revocations and lock-outs, from one server or several (--context a,b, --all-contexts:
// every context is watched at once, through src/core/fanout.ts). NDJSON for a SIEM, readable lines
// on a terminal. Ends on Ctrl-C, --for or --count, with exit 0 (unless a context failed).
import type { Command } from "commander";
import { CamError, mostSevere } from "../core/errors.js";
import { runFanout, type ContextOutcome } from "../engines/fanout.js";
import { parseHost } from "../core/validate.js";
import { parseWatchCount, parseWatchDuration, type WatchEvent } from "../core/watch.js";
import { addCommonOptions, addFanoutOptions, resolveCommon, type CommonOptions, type OutputFormat } from "../config/options.js";
import { serverEnvironment } from "../config/environment.js";
import { fanoutRuns } from "../config/selection.js";
import { messageLine, OutputWriter } from "../term/iostreams.js";
import { msg } from "../text/untrusted.js";
import { withSource } from "../transports/lifecycle.js";
import type { Deps } from "./deps.js";
import { throwUnlessDone } from "./outcome.js";

const WATCH_HELP = `
Events: login, login-failed, new-client, session-started, session-ended,
revoked, locked-out, account-disabled, account-enabled, password-changed, and
dropped (the server dropped events because the reader fell behind). Each has
time, host, account, event, ip, clientId, software, device, mechanism,
detail and dropped (null when the server did not say); "context" too with
several contexts. See docs/watch.md.

Output: readable lines (-o table, the default); -o ndjson (or -o json) one
JSON record per event, written at once. It runs until Ctrl-C, --for or
--count, and then exits 0. Drops are a "dropped" record in NDJSON and a line
on stderr with -o table.

Examples:
  camctl watch example.com
  camctl watch example.com -o ndjson >> /var/log/camctl-events.ndjson
  camctl watch example.com --count 1 -o ndjson    # wait for the next event
  camctl --all-contexts watch example.com --for 1h -o ndjson

Over the admin socket (also through --ssh), and over XMPP (--jid) as an
admin of a host with the companion module mod_client_management_admin. The
server holds up to 1000 events per watcher while camctl is behind, then
drops and counts them; it never waits for camctl. --timeout bounds the wait
for the server's heartbeat (sent every few seconds while nothing happens).`;

interface Target {
  context: string | null;
  opts: CommonOptions | undefined;
  error: CamError | undefined;
}

interface WatchSettings {
  host: string;
  forSeconds: number | null;
  count: number | null;
  format: OutputFormat;
  /** The per-watcher queue in the server (tests make it small). */
  queue: number;
}

export function register(parent: Command, deps: Deps): void {
  const cmd = parent
    .command("watch")
    .description("stream a virtual host's logins, failed logins, new clients, revocations and lock-outs as they happen")
    .argument("<host>", "the virtual host, e.g. example.com")
    .option("--for <duration>", "stop after this long (30s, 5m, 2h, 1d) and exit 0")
    .option("--count <n>", "stop after this many events and exit 0");
  addFanoutOptions(addCommonOptions(cmd)).addHelpText("after", WATCH_HELP).action(async (hostArg: string, raw: Record<string, unknown>) => {
    const host = parseHost(hostArg);
    const forSeconds = raw.for === undefined ? null : parseWatchDuration(String(raw.for));
    const count = raw.count === undefined ? null : parseWatchCount(String(raw.count));
    const fan = fanoutRuns(raw, deps.defaultSocket);
    let targets: Target[];
    let format: OutputFormat;
    if (fan) {
      targets = fan.runs.map((r) => ({ context: r.context, opts: r.opts, error: r.error }));
      format = fan.output;
    } else {
      const opts = resolveCommon(raw, deps.defaultSocket);
      targets = [{ context: null, opts, error: undefined }];
      format = opts.output;
    }
    if (format === "csv") throw new CamError("usage", "watch writes a stream: -o table (readable lines) or -o ndjson (one JSON record per event); not -o csv.");
    const queue = Number(serverEnvironment(deps.io.env).watchQueue ?? "") || 1000;
    await runWatch(targets, { host, forSeconds, count, format, queue }, deps);
  });
}

/** Ctrl-C ends the watch (exit 0); a second Ctrl-C is the usual interruption. */
function onInterrupt(stop: () => void): () => void {
  const previous = process.listeners("SIGINT");
  process.removeAllListeners("SIGINT");
  const restore = () => {
    process.removeListener("SIGINT", handler);
    for (const l of previous) if (!process.listeners("SIGINT").includes(l)) process.on("SIGINT", l);
  };
  const handler = () => {
    restore();
    stop();
  };
  process.once("SIGINT", handler);
  return restore;
}

async function runWatch(targets: Target[], s: WatchSettings, deps: Deps): Promise<void> {
  const { io } = deps;
  const several = targets.length > 1;
  const stop = new AbortController();
  const restoreInterrupt = onInterrupt(() => stop.abort());
  const timer = s.forSeconds === null ? undefined : setTimeout(() => stop.abort(), s.forSeconds * 1000);
  const name = (t: Target) => t.context ?? "";
  // Prepared one after the other (a password prompt must not interleave with another).
  const prepared = new Map<string, Awaited<ReturnType<Deps["prepareSource"]>> | { error: unknown }>();
  for (const t of targets) {
    try {
      if (t.error || !t.opts) throw t.error ?? new CamError("internal", "no options");
      prepared.set(name(t), await deps.prepareSource(t.opts, io));
    } catch (error) {
      prepared.set(name(t), { error });
    }
  }
  const task = async (context: string, emit: (e: WatchEvent) => Promise<void>): Promise<void> => {
    const target = targets.find((t) => name(t) === context)!;
    const p = prepared.get(context)!;
    if ("error" in p) throw p.error;
    const opts = target.opts!;
    await withSource(p, opts.timeoutSeconds, async (source, _signal, alive) => {
      if (!source.watch) {
        throw new CamError("unsupported",
          "This transport cannot watch a host's events; use the admin socket (--socket, or --ssh for another machine).",
          "watch-unsupported");
      }
      let busy = false;
      // Waiting for our own output is not waiting for the server: keep the deadline armed meanwhile.
      const keepAlive = setInterval(() => busy && alive(), Math.min(1000, opts.timeoutSeconds * 500));
      keepAlive.unref();
      const heartbeatSeconds = Math.max(0.2, Math.min(5, opts.timeoutSeconds / 3));
      try {
        const items = source.watch(s.host, {
          stop: stop.signal,
          heartbeatSeconds,
          queue: s.queue,
          onReady: () => io.stderr.write(messageLine(msg`watching ${s.host}${target.context !== null ? msg` on ${target.context}` : ""}; Ctrl-C ends it.`)),
        });
        for await (const item of items) {
          alive();
          if (item.kind !== "event") continue;
          busy = true;
          await emit(item.event);
          busy = false;
          alive();
        }
      } finally {
        clearInterval(keepAlive);
      }
    });
  };

  const out = new OutputWriter(io.stdout);
  let written = 0;
  let outcomes: ContextOutcome[] = [];
  try {
    const events = runFanout<WatchEvent>(targets.map(name), task, { parallel: targets.length });
    let next = await events.next();
    for (; !next.done; next = await events.next()) {
      const e = next.value;
      if (e.kind === "outcome") {
        const o = e.outcome;
        // Said at once: the other contexts go on being watched.
        if (o.kind !== null && several) io.stderr.write(messageLine(msg`${o.context}: ${o.message ?? "failed"}`));
        continue;
      }
      if (s.count !== null && written >= s.count) continue; // stopping: what still arrives is not wanted
      const event: WatchEvent = several ? { ...e.record, context: e.context } : e.record;
      if (event.event === "dropped" && s.format === "table") {
        io.stderr.write(messageLine(msg`${several ? msg`${e.context}: ` : ""}the server dropped ${event.dropped ?? 0} events while camctl was behind; the others follow.`));
        continue;
      }
      const { watchJsonLine, watchTextLine } = await import("../render/watch.js");
      await out.write(s.format === "table" ? watchTextLine(event) : watchJsonLine(event), 1);
      await out.flush();
      if (event.event !== "dropped") {
        written++;
        if (s.count !== null && written >= s.count) stop.abort();
      }
    }
    outcomes = next.value;
  } finally {
    if (timer) clearTimeout(timer);
    restoreInterrupt();
  }
  const failed = outcomes.filter((o) => o.kind !== null);
  if (!several && failed[0]) {
    const o = failed[0];
    throw new CamError(o.kind!, o.message ?? "The watch failed.", o.condition ?? undefined);
  }
  throwUnlessDone(mostSevere(outcomes.map((o) => o.kind)), () =>
    msg`${failed.length} of ${outcomes.length} contexts failed (${failed.map((o) => o.context).join(", ")}); the others were watched until the end.`,
  failed.length === 1 ? (failed[0]!.condition ?? undefined) : undefined);
}
