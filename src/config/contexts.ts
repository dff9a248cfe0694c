// Named servers ("contexts", kubectl's idea) in $XDG_CONFIG_HOME/camctl/config.toml:
//
//   default = "prod"
//
//   [contexts.prod]                       # Prosody's admin socket on another machine, over SSH
//   ssh = "prosody-admin@xmpp.example.com"
//   socket = "/var/lib/prosody/prosody.sock"
//
//   [contexts.local]                      # this machine's admin socket
//   socket = "/var/lib/prosody/prosody.sock"
//
//   [contexts.staging]                    # an XMPP login
//   jid = "admin@staging.example.com"
//   password_file = "staging.password"    # relative to this file's directory
//   ca_file = "/etc/ssl/staging-ca.pem"
//
// Loading never follows a symbolic link to the file, refuses a file others may change, and
// refuses one others may read while it names password files. The TOML parser is loaded only
// on this path.
import { closeSync, constants, fstatSync, openSync, readSync, fsyncSync, writeSync, renameSync, rmSync, lstatSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { CamError, usageError } from "../core/errors.js";
import { displaySafe } from "../text/untrusted.js";
import { isTimeoutSeconds, parseBareJid, TIMEOUT_RANGE } from "../core/validate.js";
import { checkRemoteSocketPath, checkSshArgs, isSudoUser } from "../transports/ssh/route.js";
import { parseSshTarget } from "../transports/ssh/target.js";
import { checkContainerName } from "../transports/container/route.js";
import { CONTAINER_ENGINES, SSH_ROUTES, TLS_MODES, type ContainerEngine, type SshRoute, type SshTarget, type TlsMode } from "../transports/types.js";
import { chmodHint, exposure } from "../core/file-trust.js";
import { serverEnvironment } from "./environment.js";

/** Where a context's admin socket is: on this machine, or on another one through ssh. */
export interface SocketContextServer {
  kind: "socket";
  socket: string | undefined;
  /** As written in the file (for `camctl config`), and parsed. */
  ssh: { written: string; target: SshTarget } | undefined;
  sshRoute: SshRoute | undefined;
  sudoUser: string | undefined;
  sshArgs: string[] | undefined;
  /** An ssh_config file for this server (ssh -F), absolute. */
  sshConfig: string | undefined;
  /** The container whose admin socket this is (on the ssh server, with ssh); `socket` is then the path inside. */
  container: string | undefined;
  containerEngine: ContainerEngine | undefined;
}

export interface XmppContextServer {
  kind: "xmpp";
  jid: string;
  passwordFile: string | undefined;
  caFile: string | undefined;
  server: string | undefined;
  tls: TlsMode | undefined;
}

export interface Context {
  name: string;
  description: string | undefined;
  timeout: number | undefined;
  server: SocketContextServer | XmppContextServer;
}

export interface ContextFile {
  path: string;
  /** The file's `default`, if any (always the name of one of `contexts`). */
  defaultName: string | undefined;
  /** In file order. */
  contexts: Context[];
}

/** How the context in effect was chosen. `flag` and `env` are explicit choices; `default` is the file's. */
export type ContextSource = "flag" | "env" | "default";

export interface SelectedContext {
  context: Context;
  source: ContextSource;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TOP_KEYS = ["default", "contexts"] as const;
const SOCKET_KEYS = ["socket", "ssh", "ssh_route", "sudo_user", "ssh_args", "ssh_config", "container", "container_engine"] as const;
const XMPP_KEYS = ["jid", "password_file", "ca_file", "server", "tls"] as const;
const COMMON_KEYS = ["description", "timeout"] as const;
const CONTEXT_KEYS: readonly string[] = [...SOCKET_KEYS, ...XMPP_KEYS, ...COMMON_KEYS];
const MAX_FILE_BYTES = 1 << 20;

/** The config file's path: $CAMCTL_CONFIG, else $XDG_CONFIG_HOME/camctl/config.toml, else ~/.config/camctl/config.toml. */
export function configPath(env: NodeJS.ProcessEnv): string {
  const e = serverEnvironment(env);
  if (e.configFile) return resolve(e.configFile);
  // The XDG spec says a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const xdg = e.xdgConfigHome && isAbsolute(e.xdgConfigHome) ? e.xdgConfigHome : join(e.home ?? homedir(), ".config");
  return join(xdg, "camctl", "config.toml");
}

const shownPath = (p: string) => displaySafe(p);

function invalid(path: string, what: string): CamError {
  return usageError(`${shownPath(path)}: ${what}`);
}

/**
 * Reads the file without following a symbolic link at its path and checks who may touch it.
 * Returns undefined when there is no file.
 */
function readConfigText(path: string): { text: string; mode: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw invalid(path, "is a symbolic link; camctl reads its config file only when it is a regular file. Replace the link with the file itself.");
    if (code === "EACCES") throw invalid(path, "cannot be read (permission denied).");
    throw invalid(path, `cannot be opened (${displaySafe((e as Error).message)}).`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw invalid(path, "is not a regular file.");
    const exposed = exposure(st, { rootMayOwn: true, othersMayRead: true });
    if (exposed?.kind === "owner") throw invalid(path, "belongs to another user; camctl uses only a config file owned by you (or root).");
    if (exposed) throw invalid(path, `may be changed by other users ${chmodHint(st.mode)}.`);
    if (st.size > MAX_FILE_BYTES) throw invalid(path, "is larger than 1 MiB; that cannot be a camctl config file.");
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return { text: buf.subarray(0, off).toString("utf8"), mode: st.mode };
  } finally {
    closeSync(fd);
  }
}

type Table = Record<string, unknown>;
// smol-toml builds tables without a prototype; dates are Date objects.
const isTable = (v: unknown): v is Table => {
  if (typeof v !== "object" || v === null || Array.isArray(v) || v instanceof Date) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === null || proto === Object.prototype;
};

function expandPath(value: string, base: string, env: NodeJS.ProcessEnv): string {
  if (value === "~" || value.startsWith("~/")) return join(serverEnvironment(env).home ?? homedir(), value.slice(1));
  return isAbsolute(value) ? value : resolve(base, value);
}

function parseContext(name: string, raw: unknown, file: string, env: NodeJS.ProcessEnv): Context {
  const where = `context "${displaySafe(name)}"`;
  if (!NAME.test(name)) {
    throw invalid(file, `the context name "${displaySafe(name)}" is not allowed; use letters, digits, ".", "_" and "-" (no commas, at most 64).`);
  }
  if (!isTable(raw)) throw invalid(file, `${where} must be a table ([contexts.${displaySafe(name)}]).`);
  const unknown = Object.keys(raw).filter((k) => !CONTEXT_KEYS.includes(k));
  if (unknown.length > 0) {
    throw invalid(file, `${where} has unknown key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${displaySafe(k)}"`).join(", ")}; known keys: ${CONTEXT_KEYS.join(", ")}.`);
  }
  const str = (key: string): string | undefined => {
    const v = raw[key];
    if (v === undefined) return undefined;
    if (typeof v !== "string" || v.length === 0 || /[\0\n\r]/.test(v)) throw invalid(file, `${where}: ${key} must be a non-empty string on one line.`);
    return v;
  };
  const oneOf = <T extends string>(key: string, allowed: readonly T[]): T | undefined => {
    const v = str(key);
    if (v !== undefined && !allowed.includes(v as T)) throw invalid(file, `${where}: ${key} must be one of ${allowed.join(", ")}.`);
    return v as T | undefined;
  };
  const base = dirname(file);
  const description = str("description");
  let timeout: number | undefined;
  if (raw.timeout !== undefined) {
    if (!isTimeoutSeconds(raw.timeout)) throw invalid(file, `${where}: timeout must be ${TIMEOUT_RANGE}.`);
    timeout = raw.timeout;
  }
  const hasXmpp = XMPP_KEYS.filter((k) => raw[k] !== undefined);
  const hasSocket = SOCKET_KEYS.filter((k) => raw[k] !== undefined);
  if (hasXmpp.length > 0 && hasSocket.length > 0) {
    throw invalid(file, `${where} mixes an admin socket (${hasSocket.join(", ")}) with an XMPP login (${hasXmpp.join(", ")}); a context is one or the other.`);
  }
  if (hasXmpp.length > 0) {
    const jid = str("jid");
    if (jid === undefined) throw invalid(file, `${where} has ${hasXmpp.join(", ")} but no jid to log in as.`);
    let loginJid: string;
    try {
      loginJid = parseBareJid(jid, `jid of ${where}`);
    } catch (e) {
      throw invalid(file, (e as Error).message);
    }
    const passwordFile = str("password_file");
    const caFile = str("ca_file");
    return {
      name, description, timeout,
      server: {
        kind: "xmpp",
        jid: loginJid,
        passwordFile: passwordFile === undefined ? undefined : expandPath(passwordFile, base, env),
        caFile: caFile === undefined ? undefined : expandPath(caFile, base, env),
        server: str("server"),
        tls: oneOf("tls", TLS_MODES),
      },
    };
  }
  const sshText = str("ssh");
  let socket = str("socket");
  const sshRoute = oneOf("ssh_route", SSH_ROUTES);
  const sudoUser = str("sudo_user");
  let sshArgs: string[] | undefined;
  if (raw.ssh_args !== undefined) {
    if (!Array.isArray(raw.ssh_args) || !raw.ssh_args.every((a): a is string => typeof a === "string" && !/[\0\n\r]/.test(a))) {
      throw invalid(file, `${where}: ssh_args must be a list of strings, e.g. ["-J", "bastion.example.com"].`);
    }
    sshArgs = [...raw.ssh_args];
  }
  const sshConfigText = str("ssh_config");
  if (sshText === undefined && (sshRoute !== undefined || sudoUser !== undefined || sshArgs !== undefined || sshConfigText !== undefined)) {
    throw invalid(file, `${where} has ssh_route, sudo_user, ssh_args or ssh_config but no ssh = "[user@]host[:port]".`);
  }
  const sshConfig = sshConfigText === undefined ? undefined : expandPath(sshConfigText, base, env);
  const containerText = str("container");
  const containerEngine = oneOf("container_engine", CONTAINER_ENGINES);
  if (containerText === undefined && containerEngine !== undefined) {
    throw invalid(file, `${where} has container_engine but no container = "<name>".`);
  }
  if (sudoUser !== undefined && !isSudoUser(sudoUser)) throw invalid(file, `${where}: sudo_user is not a user name.`);
  let ssh: SocketContextServer["ssh"];
  let container: string | undefined;
  try {
    if (containerText !== undefined) container = checkContainerName(containerText, `container of ${where}`);
    if (sshText !== undefined) {
      ssh = { written: sshText, target: parseSshTarget(sshText, `ssh of ${where}`) };
      if (socket !== undefined) checkRemoteSocketPath(socket, `socket of ${where}`);
      if (sshArgs !== undefined) checkSshArgs(sshArgs, where);
    } else if (container !== undefined) {
      // The path inside the container: nothing of this machine's to expand.
      if (socket !== undefined) checkRemoteSocketPath(socket, `socket of ${where}`);
    } else if (socket !== undefined) {
      if (!socket.startsWith("/") && !socket.startsWith("~/")) throw usageError(`socket of ${where} must be an absolute path.`);
      socket = expandPath(socket, base, env);
    }
  } catch (e) {
    throw invalid(file, (e as Error).message);
  }
  if (ssh === undefined && socket === undefined && container === undefined) {
    throw invalid(file, `${where} names no server; give socket = "…", ssh = "[user@]host", container = "<name>", or jid = "…".`);
  }
  return { name, description, timeout, server: { kind: "socket", socket, ssh, sshRoute, sudoUser, sshArgs, sshConfig, container, containerEngine } };
}

/** Parses and checks a config file's text (no file system access except path expansion). */
export async function parseContextFile(text: string, path: string, env: NodeJS.ProcessEnv): Promise<ContextFile> {
  const { parse, TomlError } = await import("smol-toml");
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    if (e instanceof TomlError) {
      const what = displaySafe(e.message.split("\n")[0]!.replace(/^Invalid TOML document: /, ""));
      throw invalid(path, `line ${e.line}, column ${e.column}: ${what} (not valid TOML).`);
    }
    throw e;
  }
  if (!isTable(doc)) throw invalid(path, "is not a TOML table.");
  const unknown = Object.keys(doc).filter((k) => !(TOP_KEYS as readonly string[]).includes(k));
  if (unknown.length > 0) {
    throw invalid(path, `has unknown key${unknown.length > 1 ? "s" : ""} ${unknown.map((k) => `"${displaySafe(k)}"`).join(", ")} at the top; known keys: default, and contexts as [contexts.NAME] tables.`);
  }
  const rawContexts = doc.contexts ?? {};
  if (!isTable(rawContexts)) throw invalid(path, "contexts must be tables, written [contexts.NAME].");
  const contexts = Object.entries(rawContexts).map(([name, raw]) => parseContext(name, raw, path, env));
  let defaultName: string | undefined;
  if (doc.default !== undefined) {
    if (typeof doc.default !== "string") throw invalid(path, "default must be the name of a context, as a string.");
    if (!contexts.some((c) => c.name === doc.default)) {
      throw invalid(path, `default names "${displaySafe(doc.default)}", which is not one of its contexts (${contexts.map((c) => c.name).join(", ") || "none"}).`);
    }
    defaultName = doc.default;
  }
  return { path, defaultName, contexts };
}

/** Whether any context names a password file (then the file must be private). */
const namesPasswordFile = (f: ContextFile) => f.contexts.some((c) => c.server.kind === "xmpp" && c.server.passwordFile !== undefined);

/** Loads the config file; undefined when there is none. Throws a usage error (exit 2) for anything wrong with it. */
export async function loadContextFile(env: NodeJS.ProcessEnv, path = configPath(env)): Promise<ContextFile | undefined> {
  const read = readConfigText(path);
  if (!read) return undefined;
  const file = await parseContextFile(read.text, path, env);
  if (namesPasswordFile(file) && read.mode & 0o044) {
    throw invalid(path, `names password files but other users may read it ${chmodHint(read.mode)}.`);
  }
  return file;
}

function unknownContext(file: ContextFile | undefined, name: string, path: string): CamError {
  if (!file) return usageError(`There is no context "${displaySafe(name)}": camctl has no config file (${shownPath(path)}). See docs/servers.md ("Many servers").`);
  const names = file.contexts.map((c) => c.name);
  return usageError(`There is no context "${displaySafe(name)}" in ${shownPath(file.path)}; ${names.length ? `it has ${names.join(", ")}` : "it has none"}.`);
}

/**
 * The context in effect: --context, else $CAMCTL_CONTEXT, else the file's default, else none.
 * A name that does not exist is a usage error (exit 2).
 */
export function selectContext(file: ContextFile | undefined, flag: string | undefined, env: NodeJS.ProcessEnv, path = configPath(env)): SelectedContext | undefined {
  const envName = serverEnvironment(env).context;
  const [name, source]: [string | undefined, ContextSource] = flag !== undefined ? [flag, "flag"] : envName !== undefined ? [envName, "env"] : [file?.defaultName, "default"];
  if (name === undefined) return undefined;
  if (name.includes(",")) {
    throw usageError(`${source === "env" ? "$CAMCTL_CONTEXT" : "--context"} names several contexts; this command works on one. Give one name.`);
  }
  const context = file?.contexts.find((c) => c.name === name);
  if (!context) throw unknownContext(file, name, path);
  return { context, source };
}

/** Contexts named by a comma list ("a,b,c"), in the order given, each once; or every context (`all`). */
export function contextsByNames(file: ContextFile | undefined, spec: string | { all: true }, env: NodeJS.ProcessEnv): Context[] {
  const path = file?.path ?? configPath(env);
  if (typeof spec !== "string") {
    if (!file || file.contexts.length === 0) throw usageError(`--all-contexts: there are no contexts (${shownPath(path)}). See docs/servers.md ("Many servers").`);
    return file.contexts;
  }
  const names = [...new Set(spec.split(",").map((s) => s.trim()))];
  if (names.some((n) => n === "")) throw usageError("--context has an empty name in its list; write names separated by commas, e.g. --context prod,staging.");
  return names.map((n) => {
    const c = file?.contexts.find((x) => x.name === n);
    if (!c) throw unknownContext(file, n, path);
    return c;
  });
}

// ---------------------------------------------------------------------------
// Precedence

/** The transport options as they come from the command line (ONLY values the user typed, not commander defaults). */
export interface TransportOptionValues {
  socket?: string;
  ssh?: SshTarget;
  sshRoute?: SshRoute;
  sudoUser?: string;
  sshArgs?: string[];
  sshConfig?: string;
  container?: string;
  containerEngine?: ContainerEngine;
  jid?: string;
  passwordFile?: string;
  server?: string;
  tls?: TlsMode;
  caFile?: string;
  timeout?: number;
}

export type OptionOrigin = "command line" | "environment" | `context ${string}`;

export interface AppliedOptions extends TransportOptionValues {
  /** Whether $CAMCTL_PASSWORD may supply the XMPP password (not under an explicitly chosen context). */
  passwordFromEnv: boolean;
  /** $CAMCTL_PASSWORD, when it may supply the password. */
  environmentPassword?: string;
  /** Where each value came from, for `camctl config current` and messages. */
  origin: Partial<Record<keyof TransportOptionValues, OptionOrigin>>;
  /** The context in effect, if any. */
  context: string | undefined;
  /** $CAMCTL_CONTAINER_EXEC_TEMPLATE (tests only), checked in server-spec.ts. */
  containerExecTemplate?: string;
}

const SOCKET_FIELDS = ["socket", "ssh", "sshRoute", "sudoUser", "sshArgs", "sshConfig", "container", "containerEngine"] as const;
const XMPP_FIELDS = ["jid", "passwordFile", "server", "tls", "caFile"] as const;
type Family = "socket" | "xmpp";

function familyOf(v: TransportOptionValues): Family | undefined {
  if (v.jid !== undefined) return "xmpp";
  if (v.socket !== undefined || v.ssh !== undefined || v.container !== undefined) return "socket";
  return undefined;
}

function contextValues(c: Context): TransportOptionValues {
  const s = c.server;
  const v: TransportOptionValues = { timeout: c.timeout };
  if (s.kind === "socket") Object.assign(v, { socket: s.socket, ssh: s.ssh?.target, sshRoute: s.sshRoute, sudoUser: s.sudoUser, sshArgs: s.sshArgs, sshConfig: s.sshConfig, container: s.container, containerEngine: s.containerEngine });
  else Object.assign(v, { jid: s.jid, passwordFile: s.passwordFile, server: s.server, tls: s.tls, caFile: s.caFile });
  return v;
}

/**
 * Merges the command line, the environment and a context into the options a command runs with.
 * Pure. Precedence: command line > environment > context > built-in defaults (left to
 * server-spec.ts: what stays undefined here is defaulted there). Values arrive checked (the
 * command line's as commander parsed them, a context's as the file was loaded); server-spec.ts
 * checks the environment's and the combinations.
 *
 * The server comes from the highest level that names one (--jid, --ssh or --socket;
 * $CAMCTL_JID or $CAMCTL_SOCKET; the context), and only that level and the command line above it
 * supply its settings: a lower level describes another server, so nothing of it is mixed in
 * ($CAMCTL_SOCKET is a path on this machine, never the remote path of an ssh context). Above the
 * naming level the command line overrides field by field (--tls, --ca-file, --ssh-route, ...);
 * --socket alone over an ssh context is the path on that context's server. One exception keeps an
 * explicit choice explicit: a context chosen by --context or $CAMCTL_CONTEXT is not overridden by
 * $CAMCTL_SOCKET, $CAMCTL_JID or $CAMCTL_PASSWORD (personal defaults that would otherwise send
 * `--context prod` elsewhere, and turn a fan-out over every context into the same server N times).
 * The timeout is not about which server: it comes from the highest level that has one.
 */
export function applyContext(cli: TransportOptionValues, env: NodeJS.ProcessEnv, selected: SelectedContext | undefined): AppliedOptions {
  const explicit = selected !== undefined && selected.source !== "default";
  const e = serverEnvironment(env);
  const envValues: TransportOptionValues = explicit ? {} : { jid: e.jid, socket: e.socket };
  // $CAMCTL_JID picks XMPP over $CAMCTL_SOCKET, as without contexts.
  if (envValues.jid !== undefined) envValues.socket = undefined;
  const ctxValues = selected ? contextValues(selected.context) : {};
  const levels: [OptionOrigin, TransportOptionValues][] = [
    ["command line", cli],
    ["environment", envValues],
    [`context ${selected?.context.name ?? ""}`, ctxValues],
  ];
  let naming = levels.findIndex(([, v]) => familyOf(v) !== undefined);
  // --socket alone over an ssh or container context: the path there.
  if (naming === 0 && cli.jid === undefined && cli.ssh === undefined && cli.container === undefined) {
    const below = levels.findIndex(([, v], i) => i > 0 && familyOf(v) !== undefined);
    if (below > 0 && (levels[below]![1].ssh !== undefined || levels[below]![1].container !== undefined)) naming = below;
  }
  const family = naming === -1 ? "socket" : familyOf(levels[naming]![1])!;
  const fields = family === "xmpp" ? XMPP_FIELDS : SOCKET_FIELDS;
  const out: AppliedOptions = { passwordFromEnv: !explicit, origin: {}, context: selected?.context.name };
  if (!explicit && e.password !== undefined) out.environmentPassword = e.password;
  if (e.containerExecTemplate !== undefined) out.containerExecTemplate = e.containerExecTemplate;
  const take = <K extends keyof TransportOptionValues>(key: K, from: [OptionOrigin, TransportOptionValues][]) => {
    for (const [origin, values] of from) {
      if (values[key] !== undefined) {
        (out as TransportOptionValues)[key] = values[key];
        out.origin[key] = origin;
        return;
      }
    }
  };
  // The naming level, and the command line above it when it is about the same transport.
  const serverLevels = naming === -1 ? [levels[0]!] : naming === 0 ? [levels[0]!] : [levels[0]!, levels[naming]!];
  const sameFamily = serverLevels.filter(([, v]) => {
    const f = familyOf(v);
    return f === undefined || f === family;
  });
  for (const key of fields) take(key, sameFamily);
  // What the user typed for the other transport stays, so that server-spec.ts refuses the
  // combination ("--server applies to the XMPP transport") instead of it vanishing silently.
  for (const key of family === "xmpp" ? SOCKET_FIELDS : XMPP_FIELDS) take(key, [["command line", cli]]);
  take("timeout", levels);
  return out;
}

// ---------------------------------------------------------------------------
// Setting the default (camctl config use)

/** Where the TOML string starting at `at` ends (the offset after its closing quotes), or -1 if none starts there. */
function tomlStringEnd(text: string, at: number): number {
  const quote = ['"""', "'''", '"', "'"].find((q) => text.startsWith(q, at));
  if (quote === undefined) return -1;
  const basic = quote[0] === '"';
  for (let i = at + quote.length; i < text.length; i++) {
    if (basic && text[i] === "\\") {
      i++; // an escape: the next character is part of the string
      continue;
    }
    if (quote.length === 1 && text[i] === "\n") return -1;
    if (text.startsWith(quote, i)) {
      // A multi-line string may end in up to two more quotes of its kind: """a""""" is 'a""'.
      let end = i + quote.length;
      while (quote.length === 3 && end < i + 5 && text[end] === quote[0]) end++;
      return end;
    }
  }
  return -1;
}

const DEFAULT_KEY = /^([ \t]*)(?:default|"default"|'default')[ \t]*=[ \t]*/gm;

/**
 * The file's text with the top-level `default = "<name>"`, everything else kept as it was:
 * comments, layout, a comment after the old value. The old value may be any TOML string (also
 * '''…''' over several lines). Each place that looks like the default is tried, and a result is
 * taken only if parsing it gives exactly the old document with the new default, so a look-alike
 * inside another value is never touched. undefined when no rewrite passes that check.
 */
export async function withDefault(text: string, name: string): Promise<string | undefined> {
  const [{ parse }, { isDeepStrictEqual }] = await Promise.all([import("smol-toml"), import("../core/builtins-on-demand.js")]);
  const withoutDefault = (t: string): [unknown, Record<string, unknown>] | undefined => {
    try {
      const { default: value, ...rest } = parse(t);
      return [value, rest];
    } catch {
      return undefined;
    }
  };
  const before = withoutDefault(text);
  if (!before) return undefined;
  const line = `default = ${JSON.stringify(name)}`;
  const candidates: string[] = [];
  for (const m of text.matchAll(DEFAULT_KEY)) {
    const end = tomlStringEnd(text, m.index + m[0].length);
    if (end !== -1) candidates.push(text.slice(0, m.index) + m[1] + line + text.slice(end));
  }
  if (before[0] === undefined) candidates.push(`${line}\n${text}`);
  return candidates.find((t) => {
    const after = withoutDefault(t);
    return after !== undefined && after[0] === name && isDeepStrictEqual(after[1], before[1]);
  });
}

/**
 * Sets the file's default context: checks the name, rewrites the file through a private
 * temporary file in the same directory and a rename (never writing through a symbolic link
 * planted at its path), mode 0600. Returns the updated file.
 */
export async function setDefaultContext(env: NodeJS.ProcessEnv, name: string, path = configPath(env)): Promise<ContextFile> {
  const read = readConfigText(path);
  const current = read ? await parseContextFile(read.text, path, env) : undefined;
  if (!current || !current.contexts.some((c) => c.name === name)) throw unknownContext(current, name, path);
  const text = await withDefault(read!.text, name);
  const updated = text === undefined ? undefined : await parseContextFile(text, path, env);
  if (text === undefined || updated?.defaultName !== name) {
    throw new CamError("internal", `camctl could not set the default in ${shownPath(path)} without changing anything else, so it changed nothing; edit it by hand: default = "${displaySafe(name)}".`);
  }
  const { randomBytes } = await import("../core/builtins-on-demand.js");
  const tmp = join(dirname(path), `.config.toml.${randomBytes(6).toString("hex")}.tmp`);
  // O_EXCL | O_NOFOLLOW: a fresh file of our own, never one planted in advance.
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    const buf = Buffer.from(text, "utf8");
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
    closeSync(fd);
    // The path may have been swapped for a link since it was read; rename replaces the link itself.
    if (lstatSync(path).isSymbolicLink()) throw invalid(path, "became a symbolic link while camctl was updating it; nothing was changed.");
    renameSync(tmp, path);
  } catch (e) {
    try { closeSync(fd); } catch { /* closed already */ }
    rmSync(tmp, { force: true });
    throw e;
  }
  return updated;
}
