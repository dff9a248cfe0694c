// Options shared by the commands, declared once. The command constructors only parse and
// validate; the run functions receive the plain, checked values below.
import { Command, InvalidArgumentError, Option } from "commander";
import { isTimeoutSeconds, parseBareJid, TIMEOUT_RANGE } from "../core/validate.js";
import { CamError } from "../core/errors.js";
import { msg } from "../text/untrusted.js";
import { TLS_MODES, type TlsMode, type Transport } from "../transports/lifecycle.js";
import type { AppliedOptions } from "./contexts.js";
import { SSH_ROUTE_NAMES, sshSettings, type SshRoute } from "../transports/ssh/settings.js";

// ndjson: one JSON record per line, written as each arrives (for pipes and jq).
export const OUTPUT_FORMATS = ["table", "json", "csv", "ndjson"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const DEFAULT_TIMEOUT_SECONDS = 15;

export interface CommonOptions {
  transport: Transport;
  timeoutSeconds: number;
  output: OutputFormat;
}

/** Raw values as commander hands them over. */
interface RawCommon {
  socket?: string;
  jid?: string;
  passwordFile?: string;
  server?: string;
  tls?: TlsMode;
  caFile?: string;
  timeout?: number;
  output?: OutputFormat;
  json?: boolean;
  ssh?: string;
  sshRoute?: SshRoute;
  sudoUser?: string;
  sshConfig?: string;
  /** Set before the action runs (selection.ts): the command line, environment and context merged. */
  selection?: ServerSelection;
}

/** Which server(s) the command talks to, as selection.ts decided from the command line, env and config file. */
export type ServerSelection =
  | { kind: "one"; applied: AppliedOptions }
  | { kind: "many"; runs: { context: string; applied: AppliedOptions }[]; parallel: number };

function parseTimeout(value: string): number {
  const n = Number(value);
  if (!isTimeoutSeconds(n)) throw new InvalidArgumentError(`give ${TIMEOUT_RANGE}, e.g. --timeout 15.`);
  return n;
}

export function addCommonOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("-o, --output <format>", "output format").choices(OUTPUT_FORMATS).default("table"))
    .option("--json", "same as --output json")
    .option("--socket <path>", "Prosody admin socket (env: CAMCTL_SOCKET, default /var/lib/prosody/prosody.sock)")
    .option("--jid <jid>", "log in over XMPP as this account instead of using the socket (env: CAMCTL_JID)")
    .option("--password-file <file>", "read the XMPP password from this file (yours, chmod 600), the password alone on one line (env: CAMCTL_PASSWORD holds it directly)")
    .option("--server <host[:port]>", "connect to this XMPP server address instead of resolving the JID's domain")
    .addOption(new Option("--tls <mode>", "XMPP transport security").choices(TLS_MODES).default("starttls"))
    .option("--ca-file <pem>", "trust this CA certificate (PEM) for the XMPP server's certificate")
    .addOption(new Option("--timeout <seconds>", "give up after this many seconds").argParser(parseTimeout).default(DEFAULT_TIMEOUT_SECONDS))
    .option("--no-color", "no colour in tables (NO_COLOR and FORCE_COLOR are honoured too)")
    .addOption(contextOption())
    .addOption(sshOption())
    .addOption(sshRouteOption())
    .addOption(sudoUserOption())
    .addOption(sshConfigOption());
}

// Which named server(s), and the SSH link. selection.ts also accepts these (and the transport
// options above) before the command: `camctl --ssh admin@xmpp.example.com host clients example.com`.
const contextOption = () =>
  new Option("--context <name[,name...]>", "use this named server of the config file (env: CAMCTL_CONTEXT); several, comma-separated, where the command allows it");
const sshOption = () => new Option("--ssh <[user@]host[:port]>", "reach the admin socket of this server through OpenSSH (--socket is then the path there)");
const sshRouteOption = () =>
  new Option("--ssh-route <route>", "how: forward (OpenSSH socket forwarding, default), exec (a perl bridge), sudo (the bridge via sudo -n)").choices(SSH_ROUTE_NAMES);
const sudoUserOption = () => new Option("--sudo-user <user>", "whom the sudo route runs as (default prosody)");
const sshConfigOption = () => new Option("--ssh-config <file>", "use this ssh_config file instead of ~/.ssh/config (ssh -F)");
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

function parseServer(value: string): { host: string; port: number | undefined } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(value);
  const port = m?.[2] === undefined ? undefined : Number(m[2]);
  if (!m || (port !== undefined && (port < 1 || port > 65535))) {
    throw new CamError("usage", msg`--server takes host or host:port, e.g. xmpp.example.com:5222; got "${value}".`);
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

/** The transport values of a selection, over what commander parsed (the rest of `raw` stays). */
function withApplied(raw: RawCommon, applied: AppliedOptions): RawCommon {
  return {
    ...raw,
    socket: applied.socket,
    jid: applied.jid,
    passwordFile: applied.passwordFile,
    server: applied.server,
    tls: applied.tls,
    caFile: applied.caFile,
    timeout: applied.timeout,
    ssh: applied.ssh,
    sshRoute: applied.sshRoute,
    sudoUser: applied.sudoUser,
    sshConfig: applied.sshConfig,
  };
}

/**
 * The options of one server. With a selection (selection.ts ran: the normal case), the
 * environment is already folded in; `applied` picks one run of a fan-out.
 */
export function resolveCommon(raw: RawCommon, env: NodeJS.ProcessEnv, defaultSocket: string, applied?: AppliedOptions): CommonOptions {
  const one = applied ?? (raw.selection?.kind === "one" ? raw.selection.applied : undefined);
  if (raw.selection?.kind === "many" && !applied) {
    throw new CamError("usage", "This command works on one server; give --context one name.");
  }
  if (one) {
    raw = withApplied(raw, one);
    env = {};
  }
  const output: OutputFormat = raw.json ? "json" : (raw.output ?? "table");
  const loginJid = raw.jid ?? (env.CAMCTL_JID || undefined);
  const sshOnly = raw.ssh === undefined ? (["sshRoute", "sudoUser", "sshConfig"] as const).filter((k) => raw[k] !== undefined) : [];
  if (sshOnly.length > 0) throw new CamError("usage", "--ssh-route, --sudo-user and --ssh-config apply to --ssh; add --ssh [user@]host.");
  let transport: Transport;
  if (loginJid !== undefined && raw.socket === undefined && raw.ssh === undefined) {
    transport = {
      kind: "xmpp",
      loginJid: parseBareJid(loginJid, "login JID (--jid)"),
      passwordFile: raw.passwordFile,
      server: raw.server === undefined ? undefined : parseServer(raw.server),
      tls: raw.tls ?? "starttls",
      caFile: raw.caFile,
      passwordFromEnv: one?.passwordFromEnv ?? true,
    };
  } else {
    if (raw.jid !== undefined) throw new CamError("usage", `Give either ${raw.ssh !== undefined ? "--ssh" : "--socket"} or --jid, not both.`);
    const xmppOnly = (["passwordFile", "server", "caFile"] as const).filter((k) => raw[k] !== undefined);
    if (xmppOnly.length > 0 || (raw.tls && raw.tls !== "starttls")) {
      throw new CamError("usage", "--password-file, --server, --tls and --ca-file apply to the XMPP transport; add --jid to use it.");
    }
    transport = raw.ssh !== undefined
      ? { kind: "socket", socketPath: raw.socket ?? defaultSocket, ssh: sshSettings(raw.ssh, raw.socket ?? defaultSocket, raw, one?.sshArgs) }
      : { kind: "socket", socketPath: raw.socket ?? (env.CAMCTL_SOCKET || defaultSocket) };
  }
  return { transport, timeoutSeconds: raw.timeout ?? DEFAULT_TIMEOUT_SECONDS, output };
}
