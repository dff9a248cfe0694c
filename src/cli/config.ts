// camctl config: the named servers (contexts) of the config file.
//   camctl config [list]        list them (table or JSON), marking the default and the one in effect
//   camctl config current       the context in effect (--context, $CAMCTL_CONTEXT or the default)
//   camctl config use <name>    make <name> the default (rewrites the file safely)
//   camctl config path          where the file is (whether or not it exists)
import { Option, type Command } from "commander";
import type { IOStreams } from "../term/iostreams.js";
import type { Deps } from "./deps.js";
import type { Context, ContextFile, SelectedContext } from "../config/contexts.js";
import { serverEnvironment } from "../config/environment.js";
import { displaySafe } from "../text/untrusted.js";
import { displayWidth } from "../render/width.js";

const FORMATS = ["table", "json"] as const;
type Format = (typeof FORMATS)[number];

interface FormatOptions {
  output?: Format;
  json?: boolean;
}

const formatOf = (o: FormatOptions): Format => (o.json ? "json" : (o.output ?? "table"));

function addFormatOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("-o, --output <format>", "output format").choices(FORMATS).default("table"))
    .option("--json", "same as --output json");
}

/** "container", "ssh", "socket" or "xmpp": how a context reaches its server. */
export function transportOf(c: Context): "container" | "ssh" | "socket" | "xmpp" {
  return c.server.kind === "xmpp" ? "xmpp" : c.server.container !== undefined ? "container" : c.server.ssh !== undefined ? "ssh" : "socket";
}

/** One line saying where the context's server is. */
export function describeServer(c: Context, defaultSocket: string): string {
  const s = c.server;
  if (s.kind === "xmpp") return `${s.jid}${s.server ? ` via ${s.server}` : ""}${s.tls && s.tls !== "starttls" ? ` (tls ${s.tls})` : ""}`;
  const socket = s.socket ?? (s.container !== undefined ? "/var/lib/prosody/prosody.sock" : defaultSocket);
  const inContainer = s.container === undefined ? "" : ` in ${s.containerEngine ?? "container"} ${s.container}`;
  if (s.ssh === undefined) return `${socket}${inContainer}`;
  const route = s.sshRoute && s.sshRoute !== "forward" ? ` (${s.sshRoute}${s.sshRoute === "sudo" ? ` -u ${s.sudoUser ?? "prosody"}` : ""})` : "";
  return `${s.ssh.written}:${socket}${inContainer}${route}`;
}

/** A context as JSON: everything but secrets (there are none in the file: only paths to them). */
export function contextJson(c: Context, file: ContextFile | undefined, current: string | undefined, defaultSocket: string): Record<string, unknown> {
  const s = c.server;
  const common = { name: c.name, default: file?.defaultName === c.name, current: current === c.name, transport: transportOf(c), description: c.description ?? null, timeout: c.timeout ?? null };
  if (s.kind === "xmpp") {
    return { ...common, jid: s.jid, server: s.server ?? null, tls: s.tls ?? "starttls", passwordFile: s.passwordFile ?? null, caFile: s.caFile ?? null };
  }
  return {
    ...common,
    socket: s.socket ?? (s.container !== undefined ? "/var/lib/prosody/prosody.sock" : defaultSocket),
    ssh: s.ssh?.written ?? null,
    sshRoute: s.ssh === undefined ? null : (s.sshRoute ?? "forward"),
    sudoUser: s.sshRoute === "sudo" ? (s.sudoUser ?? "prosody") : null,
    sshArgs: s.sshArgs ?? [],
    container: s.container ?? null,
    containerEngine: s.container === undefined ? null : (s.containerEngine ?? null),
  };
}

/** A borderless table (two spaces between columns), every cell made safe, no trailing blanks. */
function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows].map((r) => r.map(displaySafe));
  const widths = header.map((_, i) => Math.max(...all.map((r) => displayWidth(r[i] ?? ""))));
  return all
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell + " ".repeat(widths[i]! - displayWidth(cell)))).join("  ").trimEnd())
    .join("\n") + "\n";
}

async function writeJson(io: IOStreams, value: unknown): Promise<void> {
  const { renderJson } = await import("../render/json.js");
  io.stdout.write(renderJson(value));
}

export function register(program: Command, deps: Deps): void {
  const { io } = deps;
  const config = program.command("config").description("list the named servers (contexts) of the config file, show or set the one in use");

  addFormatOptions(config.command("list", { isDefault: true }).description("list the contexts (the default command)")).action(async (o: FormatOptions) => {
    const { loadContextFile, selectContext, configPath } = await import("../config/contexts.js");
    const path = configPath(io.env);
    const file = await loadContextFile(io.env, path);
    const current = selectContext(file, undefined, io.env, path)?.context.name;
    if (formatOf(o) === "json") {
      await writeJson(io, {
        file: path,
        default: file?.defaultName ?? null,
        current: current ?? null,
        contexts: (file?.contexts ?? []).map((c) => contextJson(c, file, current, deps.defaultSocket)),
      });
      return;
    }
    if (!file || file.contexts.length === 0) {
      io.stdout.write(`No contexts: ${displaySafe(path)} ${file ? "names none" : "does not exist"}. camctl uses the local admin socket, --socket/--ssh/--jid and $CAMCTL_SOCKET/$CAMCTL_JID.\n`);
      return;
    }
    io.stdout.write(table(
      ["CURRENT", "NAME", "TRANSPORT", "SERVER", "DESCRIPTION"],
      file.contexts.map((c) => [c.name === current ? "*" : "", c.name, transportOf(c), describeServer(c, deps.defaultSocket), c.description ?? ""]),
    ));
  });

  addFormatOptions(config.command("current").description("print the context in effect (--context, $CAMCTL_CONTEXT or the default)"))
    .option("--context <name>", "the context to report on (as the other commands take it)")
    .action(async (o: FormatOptions & { context?: string }) => {
      const { loadContextFile, selectContext, configPath } = await import("../config/contexts.js");
      const path = configPath(io.env);
      const file = await loadContextFile(io.env, path);
      const selected: SelectedContext | undefined = selectContext(file, o.context, io.env, path);
      if (formatOf(o) === "json") {
        await writeJson(io, {
          file: path,
          current: selected?.context.name ?? null,
          source: selected ? { flag: "--context", env: "CAMCTL_CONTEXT", default: "default" }[selected.source] : null,
          context: selected ? contextJson(selected.context, file, selected.context.name, deps.defaultSocket) : null,
        });
        return;
      }
      if (!selected) {
        io.stderr.write(`camctl: no context is in effect (no --context, no $CAMCTL_CONTEXT, no default in ${displaySafe(path)}).\n`);
        return;
      }
      io.stdout.write(`${displaySafe(selected.context.name)}\n`);
    });

  config
    .command("use")
    .description("make a context the default (rewrites the config file, keeping its comments)")
    .argument("<name>", "the context")
    .action(async (name: string) => {
      const { setDefaultContext, configPath } = await import("../config/contexts.js");
      const path = configPath(io.env);
      await setDefaultContext(io.env, name, path);
      io.stdout.write(`The default context is now ${displaySafe(name)} (${displaySafe(path)}).\n`);
      const envContext = serverEnvironment(io.env).context;
      if (envContext) {
        io.stderr.write(`camctl: note: $CAMCTL_CONTEXT (${displaySafe(envContext)}) still takes precedence in this shell.\n`);
      }
    });

  config
    .command("path")
    .description("print where camctl looks for its config file")
    .action(async () => {
      const { configPath } = await import("../config/contexts.js");
      io.stdout.write(`${displaySafe(configPath(io.env))}\n`);
    });
}
