// Options shared by the commands, declared once. The command constructors only parse and
// validate; the run functions receive the plain, checked values below.
import { InvalidArgumentError, Option, type Command } from "commander";
import { CamError } from "../core/errors.js";
import { CONTAINER_ENGINES, SSH_ROUTES, TLS_MODES, type ServerSpec } from "../transports/types.js";
import type { AppliedOptions } from "./contexts.js";
import {
  DEFAULT_TIMEOUT_SECONDS,
  parseContainerFlag,
  parseJidFlag,
  parseSshConfigFlag,
  parseSshFlag,
  parseSudoUserFlag,
  parseTimeoutFlag,
  resolveServerSpec,
} from "./server-spec.js";

// ndjson: one JSON record per line, written as each arrives (for pipes and jq).
export const OUTPUT_FORMATS = ["table", "json", "csv", "ndjson"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
// openmetrics: only `host clients --summary` declares it (for Prometheus); that command takes it
// out of the options itself, so every other command's output stays one of the four above.
export const HOST_CLIENTS_FORMATS = [...OUTPUT_FORMATS, "openmetrics"] as const;

/** What a command that talks to a server runs with: the server's spec and the output format. */
export interface CommonOptions extends ServerSpec {
  output: OutputFormat;
}

/** What commander hands over besides the server options (those reach resolveCommon only through `selection`). */
interface RawCommon {
  output?: OutputFormat;
  json?: boolean;
  /** Set before the action runs (selection.ts): the command line, environment and context merged. */
  selection?: ServerSelection;
}

/** Which server(s) the command talks to, as selection.ts decided from the command line, env and config file. */
export type ServerSelection =
  | { kind: "one"; applied: AppliedOptions }
  | { kind: "many"; runs: { context: string; applied: AppliedOptions }[]; parallel: number };

export function addCommonOptions(cmd: Command, formats: readonly string[] = OUTPUT_FORMATS): Command {
  return cmd
    .addOption(new Option("-o, --output <format>", "output format").choices(formats).default("table"))
    .option("--json", "same as --output json")
    .option("--socket <path>", "Prosody admin socket (env: CAMCTL_SOCKET, default /var/lib/prosody/prosody.sock)")
    .addOption(new Option("--jid <jid>", "log in over XMPP as this account instead of using the socket (env: CAMCTL_JID)").argParser(parseJidFlag))
    .option("--password-file <file>", "read the XMPP password from this file (yours, chmod 600), the password alone on one line (env: CAMCTL_PASSWORD holds it directly)")
    .option("--server <host[:port]>", "connect to this XMPP server address instead of resolving the JID's domain")
    .addOption(new Option("--tls <mode>", "XMPP transport security").choices(TLS_MODES).default("starttls"))
    .option("--ca-file <pem>", "trust this CA certificate (PEM) for the XMPP server's certificate")
    .addOption(new Option("--timeout <seconds>", "give up after this many seconds").argParser(parseTimeoutFlag).default(DEFAULT_TIMEOUT_SECONDS))
    .option("--no-color", "no colour in tables (NO_COLOR and FORCE_COLOR are honoured too)")
    .addOption(contextOption())
    .addOption(sshOption())
    .addOption(sshRouteOption())
    .addOption(sudoUserOption())
    .addOption(sshConfigOption())
    .addOption(containerOption())
    .addOption(containerEngineOption());
}

// Which named server(s), and the SSH link. selection.ts also accepts these (and the transport
// options above) before the command: `camctl --ssh admin@xmpp.example.com host clients example.com`.
const contextOption = () =>
  new Option("--context <name[,name...]>", "use this named server of the config file (env: CAMCTL_CONTEXT); several, comma-separated, where the command allows it");
const sshOption = () => new Option("--ssh <[user@]host[:port]>", "reach the admin socket of this server through OpenSSH (--socket is then the path there)").argParser(parseSshFlag);
const sshRouteOption = () =>
  new Option("--ssh-route <route>", "how: forward (OpenSSH socket forwarding, default), exec (a perl bridge), sudo (the bridge via sudo -n)").choices(SSH_ROUTES);
const sudoUserOption = () => new Option("--sudo-user <user>", "whom the sudo route runs as (default prosody)").argParser(parseSudoUserFlag);
const sshConfigOption = () => new Option("--ssh-config <file>", "use this ssh_config file instead of ~/.ssh/config (ssh -F)").argParser(parseSshConfigFlag);
const containerOption = () =>
  new Option("--container <name>", "reach the admin socket inside this container through <engine> exec and a perl bridge (--socket is then the path inside, default /var/lib/prosody/prosody.sock)").argParser(parseContainerFlag);
const containerEngineOption = () =>
  new Option("--container-engine <engine>", "which engine runs --container (default: whichever is installed, docker first)").choices(CONTAINER_ENGINES);
const allContextsOption = () => new Option("--all-contexts", "run on every context of the config file");
const parallelOption = () => new Option("--parallel <n>", "contexts run at once (default 4)").argParser(parseParallel);

export const DEFAULT_PARALLEL = 4;

function parseParallel(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError("give a whole number from 1 to 64, e.g. --parallel 4.");
  return n;
}

/**
 * --no-ip, for the commands that print clients: no address in any output (core/network.ts; the
 * flag itself is read in cli/program.ts before any source is made).
 */
export function addAddressOptions(cmd: Command): Command {
  return cmd.option("--no-ip", "hide client addresses (ip, firstIp, lastIp) in every output");
}

/** --all-contexts and --parallel, for the commands that can run on several servers at once. */
export function addFanoutOptions(cmd: Command): Command {
  return cmd.addOption(allContextsOption()).addOption(parallelOption());
}

/**
 * The options of one server: the selection's (selection.ts ran before the action, with the
 * command line, the environment and the context merged), or `applied`, one run of a fan-out.
 */
export function resolveCommon(raw: RawCommon, defaultSocket: string, applied?: AppliedOptions): CommonOptions {
  if (raw.selection?.kind === "many" && !applied) {
    throw new CamError("usage", "This command works on one server; give --context one name.");
  }
  const one = applied ?? (raw.selection?.kind === "one" ? raw.selection.applied : undefined);
  if (!one) throw new CamError("internal", "camctl chose no server for this command (the selection did not run).");
  const output: OutputFormat = raw.json ? "json" : (raw.output ?? "table");
  return { ...resolveServerSpec(one, defaultSocket), output };
}
