// The program: builds the command tree, runs it, and decides the exit code in one place.
import { Command, CommanderError } from "commander";
import type { Deps } from "./commands/deps.js";
import * as clients from "./commands/user/clients.js";
import * as revokeClient from "./commands/user/revoke-client.js";
import * as completion from "./commands/completion.js";
import { CamError, ExitCode, exitCodeFor } from "./errors.js";
import { systemIO, type IOStreams } from "./iostreams.js";
import { displaySafe } from "./render/sanitize.js";
import { prepareSource } from "./transport.js";
import { VERSION } from "./version.js";

/** For bin/camctl's Ctrl-C handler: what to add to "interrupted." right now (a revoke in flight). */
export { interruptHint } from "./interrupt.js";

export const DEFAULT_SOCKET_PATH = "/var/lib/prosody/prosody.sock";

const HELP_FOOTER = `
Examples:
  camctl user clients alice@example.com
  camctl user clients alice@example.com --json
  camctl user revoke_client alice@example.com grant/HjEEr45_LQr --yes
  camctl user clients alice@example.com --jid alice@example.com --password-file ~/.alice.pw

Environment: CAMCTL_SOCKET, CAMCTL_JID, CAMCTL_PASSWORD, NO_COLOR, FORCE_COLOR.
Exit codes: 0 done, 1 internal error, 2 usage/invalid input, 3 cannot reach the server,
  4 authentication failed, 5 not permitted, 6 not found, 7 password reset required,
  8 no client management for this account/host.
See man camctl for more.`;

const safeLines = (s: string) => s.split("\n").map(displaySafe).join("\n");

export function buildProgram(deps: Deps): Command {
  const { io } = deps;
  const program = new Command("camctl")
    .description("See and revoke what has access to an XMPP account (Prosody mod_client_management).")
    .version(VERSION, "-V, --version", "print camctl's version")
    .exitOverride()
    .showHelpAfterError("(add --help for usage)")
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(safeLines(s)),
    });
  program.addHelpText("after", HELP_FOOTER);
  const user = program.command("user").description("commands about one account's clients");
  clients.register(user, deps);
  revokeClient.register(user, deps);
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

/** Runs camctl with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[], overrides: Partial<Deps> = {}): Promise<number> {
  const noColor = argv.includes("--no-color");
  const io = overrides.io ?? systemIO(noColor);
  const deps: Deps = {
    io,
    prepareSource,
    defaultSocket: DEFAULT_SOCKET_PATH,
    confirm: confirmOnTerminal,
    ...overrides,
  };
  try {
    await buildProgram(deps).parseAsync(argv, { from: "user" });
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message already.
      return err.exitCode === 0 || err.code === "commander.helpDisplayed" || err.code === "commander.version" ? ExitCode.ok : ExitCode.usage;
    }
    if (err instanceof CamError) {
      io.stderr.write(`camctl: ${err.message}\n`);
      return exitCodeFor(err);
    }
    const detail = err instanceof Error ? err.message : String(err);
    io.stderr.write(`camctl: unexpected error: ${displaySafe(detail)}. This is a bug in camctl; please report it.\n`);
    if (io.env.CAMCTL_DEBUG && err instanceof Error && err.stack) io.stderr.write(displaySafe(err.stack) + "\n");
    return ExitCode.internal;
  }
}
