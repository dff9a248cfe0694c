// Options shared by the commands, declared once. The command constructors only parse and
// validate; the run functions receive the plain, checked values below.
import { Command, InvalidArgumentError, Option } from "commander";
import { parseBareJid } from "./validate.js";
import { CamError } from "./errors.js";
import { displaySafe } from "./render/sanitize.js";
import { TLS_MODES, type TlsMode, type Transport } from "./transport.js";

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
}

function parseTimeout(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) {
    throw new InvalidArgumentError("give a number of seconds between 0 and 3600, e.g. --timeout 15.");
  }
  return n;
}

export function addCommonOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("-o, --output <format>", "output format").choices(OUTPUT_FORMATS).default("table"))
    .option("--json", "same as --output json")
    .option("--socket <path>", "Prosody admin socket (env: CAMCTL_SOCKET, default /var/lib/prosody/prosody.sock)")
    .option("--jid <jid>", "log in over XMPP as this account instead of using the socket (env: CAMCTL_JID)")
    .option("--password-file <file>", "read the XMPP password from this file (env: CAMCTL_PASSWORD holds it directly)")
    .option("--server <host[:port]>", "connect to this XMPP server address instead of resolving the JID's domain")
    .addOption(new Option("--tls <mode>", "XMPP transport security").choices(TLS_MODES).default("starttls"))
    .option("--ca-file <pem>", "trust this CA certificate (PEM) for the XMPP server's certificate")
    .addOption(new Option("--timeout <seconds>", "give up after this many seconds").argParser(parseTimeout).default(DEFAULT_TIMEOUT_SECONDS))
    .option("--no-color", "no colour in tables (NO_COLOR and FORCE_COLOR are honoured too)");
}

function parseServer(value: string): { host: string; port: number | undefined } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+)(?::(\d{1,5}))?$/.exec(value);
  const port = m?.[2] === undefined ? undefined : Number(m[2]);
  if (!m || (port !== undefined && (port < 1 || port > 65535))) {
    throw new CamError("usage", `--server takes host or host:port, e.g. xmpp.example.com:5222; got "${displaySafe(value)}".`);
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port };
}

export function resolveCommon(raw: RawCommon, env: NodeJS.ProcessEnv, defaultSocket: string): CommonOptions {
  const output: OutputFormat = raw.json ? "json" : (raw.output ?? "table");
  const loginJid = raw.jid ?? (env.CAMCTL_JID || undefined);
  let transport: Transport;
  if (loginJid !== undefined && raw.socket === undefined) {
    transport = {
      kind: "xmpp",
      loginJid: parseBareJid(loginJid, "login JID (--jid)"),
      passwordFile: raw.passwordFile,
      server: raw.server === undefined ? undefined : parseServer(raw.server),
      tls: raw.tls ?? "starttls",
      caFile: raw.caFile,
    };
  } else {
    if (raw.jid !== undefined) throw new CamError("usage", "Give either --socket or --jid, not both.");
    const xmppOnly = (["passwordFile", "server", "caFile"] as const).filter((k) => raw[k] !== undefined);
    if (xmppOnly.length > 0 || (raw.tls && raw.tls !== "starttls")) {
      throw new CamError("usage", "--password-file, --server, --tls and --ca-file apply to the XMPP transport; add --jid to use it.");
    }
    transport = { kind: "socket", socketPath: raw.socket ?? (env.CAMCTL_SOCKET || defaultSocket) };
  }
  return { transport, timeoutSeconds: raw.timeout ?? DEFAULT_TIMEOUT_SECONDS, output };
}
