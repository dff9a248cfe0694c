// The program: builds the command tree, runs it, and decides the exit code in one place. It is
// also the single exit point for messages: every `camctl: …` line on stderr passes the net
// (iostreams.messageLine / withMessageNet), and a failed write of the results is reported here.
import { CommanderError, type Command } from "commander";
import { CamCommand } from "./command.js";
import type { Deps } from "./deps.js";
import * as clients from "./user/clients.js";
import * as revokeClient from "./user/revoke-client.js";
import * as hostClients from "./host/clients.js";
import * as hostRevoke from "./host/revoke.js";
import * as hostApply from "./host/apply.js";
import * as lockout from "./user/lockout.js";
import * as completion from "./completion.js";
import * as config from "./config.js";
import * as doctor from "./doctor.js";
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
import { interruptHint } from "../term/interrupt.js";
import { displaySafe, msg } from "../text/untrusted.js";
import { prepareSource } from "../transports/prepare-source.js";
import { VERSION } from "../core/version.js";

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

Environment: CAMCTL_SOCKET, CAMCTL_JID, CAMCTL_PASSWORD, CAMCTL_CONTEXT, CAMCTL_CONFIG,
NO_COLOR, FORCE_COLOR.

Exit codes:
${exitCodeHelp()}

See man camctl for more.`;

export function buildProgram(deps: Deps): Command {
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
  // Which server(s): options typed before the command, the environment, the config file's contexts.
  addGlobalServerOptions(program).hook("preAction", (_program, action) => selectServers(program, action, io));
  const user = program.command("user").description("commands about one account's clients");
  clients.register(user, deps);
  revokeClient.register(user, deps);
  lockout.register(user, deps);
  const host = program.command("host").description("commands about every account of a virtual host");
  hostClients.register(host, deps);
  hostRevoke.register(host, deps);
  hostApply.register(host, deps);
  doctor.register(program, deps);
  config.register(program, deps);
  completion.register(program, deps);
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
    await buildProgram(deps).parseAsync(argv, { from: "user" });
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

/** Ctrl-C outside a prompt (bin/camctl calls this on SIGINT): one sentence, and the exit code. */
export function interrupted(stderr: NodeJS.WritableStream = process.stderr): number {
  const hint = interruptHint();
  stderr.write(messageLine(hint ? `interrupted. ${hint}` : "interrupted."));
  return ExitCode.interrupted;
}
