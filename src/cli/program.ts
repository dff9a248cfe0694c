// The program: builds the command tree, runs it, and decides the exit code in one place. It is
// also the single exit point for messages: every `camctl: …` line on stderr passes the net
// (iostreams.messageLine / withMessageNet), and a failed write of the results is reported here.
import { CommanderError, type Command, type Option } from "commander";
import { CamCommand } from "./command.js";
import type { Deps } from "./deps.js";
import { addGlobalServerOptions, selectServers } from "../config/selection.js";
import { CamError, ExitCode, exitCodeFor, exitCodeHelp } from "../core/errors.js";
import {
  OutputFailed,
  describeWriteError,
  flushed,
  messageLine,
  readerGone,
  systemIO,
  watchWrites,
  withMessageNet,
  type IOStreams,
} from "../term/iostreams.js";
import { interruptHint, interruptLines } from "../term/interrupt.js";
import { displaySafe, msg } from "../text/untrusted.js";
import { prepareSource } from "../transports/prepare-source.js";
import { VERSION } from "../core/version.js";
import type { StandIn, WarmUpOptions } from "./warm-up.js";

/** For bin/camctl's Ctrl-C handler: what to add to "interrupted." right now (a revoke in flight). */
export { interruptHint };

export const DEFAULT_SOCKET_PATH = "/var/lib/prosody/prosody.sock";

const HELP_FOOTER = `
Examples:
  camctl user clients alice@example.com
  camctl user clients alice@example.com --json
  camctl user revoke_client alice@example.com grant/HjEEr45_LQr --yes
  camctl user clients alice@example.com --jid alice@example.com --password-file ~/.alice.pw
  camctl host clients example.com --last-seen-before 90d -o ndjson
  camctl host revoke example.com --software 'Evil Client' --dry-run
  camctl user lockout mallory@example.com --disable
  camctl --ssh prosody-admin@xmpp.example.com host clients example.com -o ndjson
  camctl --context prod,staging user clients alice@example.com
  camctl --all-contexts doctor --json
  camctl watch example.com -o ndjson

Environment: CAMCTL_SOCKET, CAMCTL_JID, CAMCTL_PASSWORD, CAMCTL_CONTEXT, CAMCTL_CONFIG,
NO_COLOR, FORCE_COLOR.

Exit codes:
${exitCodeHelp()}

See man camctl for more.`;

/** A command module: declares its command (and its subcommands) on the parent it is given. */
interface CommandModule {
  register(parent: Command, deps: Deps): void;
}

/** A command of the tree, by where it hangs and its names; its module is loaded only when needed. */
interface CommandEntry {
  group?: keyof typeof GROUPS;
  names: readonly string[];
  load: () => Promise<CommandModule>;
  /** Needs the whole tree to run (completion reads it). */
  wholeTree?: true;
}

const GROUPS = {
  user: "commands about one account's clients",
  host: "commands about every account of a virtual host",
} as const;

/**
 * Every command, in the order `camctl --help` lists them. A module is imported when its command is
 * chosen (or when the whole tree is needed: help, completion, anything the quick look below does
 * not recognise), so start-up does not grow with the number of commands.
 */
const COMMANDS: readonly CommandEntry[] = [
  { group: "user", names: ["clients"], load: () => import("./user/clients.js") },
  { group: "user", names: ["revoke_client", "revoke-client"], load: () => import("./user/revoke-client.js") },
  { group: "user", names: ["lockout"], load: () => import("./user/lockout.js") },
  { group: "user", names: ["history"], load: () => import("./user/history.js") },
  { group: "user", names: ["unlock"], load: () => import("./user/unlock.js") },
  { group: "host", names: ["clients"], load: () => import("./host/clients.js") },
  { group: "host", names: ["revoke"], load: () => import("./host/revoke.js") },
  { group: "host", names: ["apply"], load: () => import("./host/apply.js") },
  { group: "host", names: ["history"], load: () => import("./host/history.js") },
  { names: ["doctor"], load: () => import("./doctor.js") },
  { names: ["config"], load: () => import("./config.js") },
  { names: ["completion"], load: () => import("./completion.js"), wholeTree: true },
  { names: ["watch"], load: () => import("./watch.js") },
  { names: ["schema"], load: () => import("./schema.js") },
];

/** The program itself: its description, version, global options and the server-selection hook. */
function programRoot(deps: Deps): CamCommand {
  const { io } = deps;
  const program = new CamCommand("camctl")
    .description("See and revoke what has access to an XMPP account (Prosody mod_client_management).")
    .version(VERSION, "-V, --version", "print camctl's version")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    });
  program.addHelpText("after", HELP_FOOTER);
  // Options before the command are the program's; after it, the command's own (selection.ts).
  program.enablePositionalOptions();
  // Which server(s): options typed before the command, the environment, the config file's contexts.
  program.hook("preAction", (_program, action) => selectServers(program, action, io));
  return program;
}

/**
 * The command `argv` plainly names (`[global options] user clients …`), or undefined when that is
 * not certain at a glance: then the whole tree is built and commander decides, as always. Only
 * the program's own options may stand before the command, each written whole (`--socket X`,
 * `--socket=X`, `-o X`); help, version and anything else mean the whole tree.
 */
function chosenCommand(program: Command, argv: readonly string[]): CommandEntry | undefined {
  const options = program.options as Option[];
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith("-"); i++) {
    const arg = argv[i]!;
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const o = options.find((o) => o.long === flag || o.short === flag);
    if (!o || o.attributeName() === "version" || o.optional) return undefined;
    if (eq !== -1 ? !o.required : o.required && ++i >= argv.length) return undefined;
  }
  const [first, second] = [argv[i], argv[i + 1]];
  const entry = first && Object.hasOwn(GROUPS, first)
    ? COMMANDS.find((c) => c.group === first && second !== undefined && c.names.includes(second))
    : COMMANDS.find((c) => c.group === undefined && first !== undefined && c.names.includes(first));
  return entry?.wholeTree ? undefined : entry;
}

/** The command tree for `argv`: the program and the command it plainly names, or the whole tree. */
export async function buildProgram(deps: Deps, argv: readonly string[] = []): Promise<Command> {
  const program = programRoot(deps);
  // The server options that may stand before the command (selection.ts) are declared on the
  // program only when something does stand there, or for the whole tree (help, completion): when
  // argv starts with the command, the program never parses an option, and declaring its sixteen
  // is a good part of building the tree. When one stands there they are declared first:
  // chosenCommand steps over them by their declarations.
  const leadingOption = argv[0]?.startsWith("-") === true;
  if (leadingOption) addGlobalServerOptions(program);
  const chosen = chosenCommand(program, argv);
  if (!chosen && !leadingOption) addGlobalServerOptions(program);
  const entries = chosen ? [chosen] : COMMANDS;
  const modules = await Promise.all(entries.map((c) => c.load()));
  const groups = new Map<string, Command>();
  entries.forEach((c, i) => {
    let parent: Command = program;
    if (c.group) {
      parent = groups.get(c.group) ?? program.command(c.group).description(GROUPS[c.group]);
      groups.set(c.group, parent);
    }
    modules[i]!.register(parent, deps);
  });
  return program;
}

async function confirmOnTerminal(question: string, io: IOStreams): Promise<boolean> {
  const { default: confirm } = await import("@inquirer/confirm");
  try {
    return await confirm({ message: question, default: false }, { input: io.stdin, output: io.stderr });
  } catch {
    return false; // Ctrl-C or a closed terminal means no.
  }
}

async function askOnTerminal(question: string, io: IOStreams): Promise<string | undefined> {
  const { askOnTerminal: ask } = await import("../term/ask.js");
  return ask(question, io);
}

/** Runs the command tree; writes the message of an error and returns the exit code. */
async function runProgram(argv: string[], deps: Deps): Promise<number> {
  const { io } = deps;
  try {
    const program = await buildProgram(deps, argv);
    await program.parseAsync(argv, { from: "user" });
    return ExitCode.ok;
  } catch (err) {
    // The results could not be written: main decides from the stream's error what that means.
    if (err instanceof OutputFailed) return ExitCode.ok;
    if (err instanceof CommanderError) {
      // Only help and version get here (parse errors are CamErrors, see command.ts). Help shown
      // because something was missing (`camctl user`) went to stderr and is a usage error.
      return err.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (err instanceof CamError) {
      io.stderr.write(messageLine(err.message));
      return exitCodeFor(err);
    }
    const detail = err instanceof Error ? err.message : String(err);
    io.stderr.write(messageLine(String(msg`unexpected error: ${detail}. This is a bug in camctl; please report it.`)));
    if (io.env.CAMCTL_DEBUG && err instanceof Error && err.stack) io.stderr.write(displaySafe(err.stack) + "\n");
    return ExitCode.internal;
  }
}

/** Runs camctl with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[], overrides: Partial<Deps> = {}): Promise<number> {
  const noColor = argv.includes("--no-color");
  // --no-ip (a listing command's option): decided before any source is made (core/network.ts).
  const dashes = argv.indexOf("--");
  if ((dashes < 0 ? argv : argv.slice(0, dashes)).includes("--no-ip")) {
    const { hideAddresses } = await import("../core/network.js");
    hideAddresses(true);
  }
  const rawIO = overrides.io ?? systemIO(noColor);
  // Watched before anything is written: a failed write is recorded, never an uncaught 'error'.
  const output = watchWrites(rawIO.stdout);
  watchWrites(rawIO.stderr);
  const io = withMessageNet(rawIO);
  const deps: Deps = {
    prepareSource,
    defaultSocket: DEFAULT_SOCKET_PATH,
    confirm: confirmOnTerminal,
    ask: askOnTerminal,
    ...overrides,
    io,
  };
  const code = await runProgram(argv, deps);
  await flushed(rawIO.stdout);
  const lost = output.error;
  // A reader that went away (`camctl … | head`) took what it wanted: that is not a failure. A
  // bulk command's own outcome (7, 9, 3) says more than the lost output does.
  if (lost === undefined || readerGone(lost) || code !== ExitCode.ok) return code;
  // The bulk commands have already said what was done and where the output stopped.
  if (!output.reported) io.stderr.write(messageLine(`Could not write the output: ${describeWriteError(lost)}. It is missing or incomplete.`));
  return ExitCode.outputLost;
}

/**
 * Runs a listing against a stand-in admin socket (warm-up.ts), so that what a real listing runs is
 * compiled: scripts/build.mjs calls it before making the code caches, and the single executable
 * before its start-up snapshot is taken. Its own chunk: no start loads it.
 */
export async function warmUp(options?: WarmUpOptions): Promise<void> {
  const { warmUp: run } = await import("./warm-up.js");
  await run(main, options);
}

/** The warm-up's stand-in admin socket on its own, for a warm-up run by another process. */
export async function startWarmUpStandIn(): Promise<StandIn> {
  const { startStandIn } = await import("./warm-up.js");
  return startStandIn();
}

/**
 * Ends the process with `code` once everything written has been flushed (on a pipe, writes can
 * still be queued). bin/camctl and the single executable (bin/single-executable.cjs) end this way.
 */
export function exitWhenFlushed(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = (): void => {
    if (--pending === 0) process.exit(code);
  };
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.destroyed || stream.writableEnded) done();
    else stream.write("", done);
  }
}

/** Ctrl-C outside a prompt (bin/camctl calls this on SIGINT): "interrupted." and the hint's lines, and the exit code. */
export function interrupted(stderr: NodeJS.WritableStream = process.stderr): number {
  const [first, ...more] = interruptLines();
  // One write per line: a message line is one line (withMessageNet escapes line breaks inside one).
  stderr.write(messageLine(first ? `interrupted. ${first}` : "interrupted."));
  for (const line of more) stderr.write(messageLine(line));
  return ExitCode.interrupted;
}
