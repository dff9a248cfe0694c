// A throw-away Prosody 13 for tests and scripts.
//
// startSandbox() writes a config into a fresh temp directory (loopback only,
// free ports, a private CA and server certificate, the admin socket), starts
// `prosody` in the foreground and waits until it answers. stop() kills only the
// process it started and removes the directory. Sandboxes left running when the
// process exits or is interrupted are killed by an exit/SIGINT/SIGTERM hook.
import { spawn, spawnSync, execFile, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { replRequest, luaString } from "./admin-socket.js";
import { legacyConnect, sasl2Connect, type ConnectTarget, type OpenClient } from "./clients.js";
import { RawXmppConnection, rawLegacyLogin, rawSasl2 } from "./raw-client.js";

const execFileP = promisify(execFile);

export interface SandboxOptions {
  /** Extra plugin directories, searched after $CAMCTL_PROSODY_PLUGIN_PATHS and before the stand-in. */
  pluginPaths?: string[];
  /** Extra modules to load on the main host. */
  extraModules?: string[];
  /** Extra global options (before the VirtualHosts), e.g. { snikket_domain: "camctl.test" }. */
  globalOptions?: Record<string, string | boolean | number>;
  /** Extra options of the main host, e.g. { enforce_client_ids: true }. */
  hostOptions?: Record<string, string | boolean | number>;
  /** Server admins (JIDs; a bare localpart means <localpart>@host). They get prosody:operator. */
  admins?: string[];
  /**
   * Test-only modules, name -> Lua source (name without "mod_"): written into the sandbox's own
   * plugin directory (searched after pluginPaths) and loaded on the main host.
   */
  testModules?: Record<string, string>;
  /** Where Prosody keeps its data: files (default) or one SQLite database (needs LuaDBI's SQLite3 driver, see sqliteStorageAvailable()). */
  storage?: "internal" | "sqlite";
  /**
   * A raw Prosody `sql = { … }` table (Lua text), e.g. a PostgreSQL server the caller started
   * (bench/postgres.mjs): storage is then "sql" with it, and `storage` is ignored.
   */
  sql?: string;
  /**
   * Also load mod_test_xep0494 (test/fixtures/prosody-plugins) on the main host: XEP-0494's
   * urn:xmpp:cam:0 for the account itself, built on mod_client_management's public functions.
   * Neither the real module nor the stand-in speaks that namespace.
   */
  serveXep0494?: boolean;
  /**
   * The server certificate's validity, e.g. one that expired yesterday (default: from now, for 7
   * days). The CA is valid from now either way.
   */
  certificateValidity?: { notBefore: Date; notAfter: Date };
  /**
   * A stand-in for a container (no engine can run one on these machines): Prosody runs in mount
   * and PID namespaces of its own (`unshare --mount --pid --fork`), with its admin socket at
   * `socketInside` on a tmpfs mounted only there (e.g. /var/lib/prosody/prosody.sock). Outside,
   * that path is not Prosody's; the sandbox's own helpers reach the socket through
   * /proc/<pid>/root, and `nsenter --target <pid> --mount --pid` enters it as `docker exec` would.
   */
  isolated?: { socketInside: string };
}

/** The OAuth client a grant names (its oauth2_client: name, id, version, uri) and its lifetime. */
export interface GrantClientInfo {
  software?: string;
  softwareId?: string;
  version?: string;
  uri?: string;
  ttlSeconds?: number;
}

/** One client populate() gives an account. */
export type PopulateClientSpec =
  /** A real SASL2 login (PLAIN over TLS, Bind2, <user-agent id>), then logged out unless keepConnected. */
  | { kind: "sasl2"; software?: string; device?: string; userAgentId?: string; fastToken?: boolean; keepConnected?: boolean }
  /** A real pre-SASL2 login (SASL PLAIN, resource binding), then logged out unless keepConnected. */
  | { kind: "legacy"; resource?: string; keepConnected?: boolean }
  /** An OAuth-style grant (one refresh token) made with mod_tokenauth's create_grant/create_token. */
  | ({ kind: "grant" } & GrantClientInfo);

export interface PopulateOptions {
  /** How many accounts to create. */
  accounts: number;
  /** Localparts are `${prefix}${n}` (n from 1); default "pop". */
  prefix?: string;
  /** Default: the main host. */
  host?: string;
  /** The clients of each account; a function gets the account's index (0-based). Default: DEFAULT_POPULATE_CLIENTS. */
  clients?: PopulateClientSpec[] | ((index: number) => PopulateClientSpec[]);
  /** Logins in flight at once; default 6. */
  concurrency?: number;
}

export interface PopulatedClient {
  kind: PopulateClientSpec["kind"];
  /** The id mod_client_management lists it under ("client/…" or "grant/…"). */
  id: string;
  software: string | null;
  device: string | null;
  /** The full JID it was bound to (logins only). */
  fullJid: string | null;
  /** The FAST token it obtained (sasl2 with fastToken). */
  fastToken: string | null;
  /** The open connection (keepConnected); the sandbox closes it at stop() at the latest. */
  connection: RawXmppConnection | null;
}

export interface PopulatedAccount {
  jid: string;
  localpart: string;
  password: string;
  clients: PopulatedClient[];
}

/** A phone with a FAST token, a desktop client, and a web app's grant; all logged out. */
export const DEFAULT_POPULATE_CLIENTS: PopulateClientSpec[] = [
  { kind: "sasl2", software: "Conversations", device: "Phone", fastToken: true },
  { kind: "sasl2", software: "Gajim", device: "Laptop" },
  { kind: "grant", software: "Webmail", uri: "https://webmail.example/" },
];

/** A logged-in client made by sasl2Login/legacyLogin. */
export interface SandboxClient {
  /** Full JID the server bound (e.g. "alice@camctl.test/Gajim~AbCd"). */
  jid: string;
  /** Sends one <iq/> (XML text; id added when missing) and resolves with the reply stanza as XML text. Only while connected (keepConnected). */
  iq(stanza: string, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

export interface Sandbox {
  dir: string;
  configPath: string;
  socketPath: string;
  /** With `isolated`: Prosody's pid outside its namespaces (what nsenter --target takes), else 0. */
  isolatedPid: number;
  caFile: string;
  /** "camctl.test": normal host with mod_client_management. */
  host: string;
  /** "strict.camctl.test": mod_client_management with enforce_client_ids = true. */
  strictHost: string;
  /** "bare.camctl.test": no mod_client_management. */
  bareHost: string;
  /** c2s with STARTTLS, on 127.0.0.1. */
  c2sPort: number;
  /** XEP-0368 direct TLS c2s, on 127.0.0.1. */
  directTlsPort: number;
  pid: number;
  storage: "internal" | "sqlite" | "sql";
  createAccount(localpart: string, host?: string, password?: string): Promise<{ jid: string; password: string }>;
  /** SASL2 login with <user-agent id> + software + version + device; keepConnected keeps the session open until sandbox.stop() or the returned close(). */
  sasl2Login(o: {
    jid: string;
    password: string;
    userAgentId: string;
    software?: string;
    version?: string;
    device?: string;
    keepConnected?: boolean;
    requestFast?: boolean;
    /** SASL mechanism for the password login; default PLAIN (over TLS). SCRAM-SHA-1 works but costs ~2 s in @xmpp's implementation. */
    mechanism?: "PLAIN" | "SCRAM-SHA-1";
  }): Promise<SandboxClient>;
  /** Pre-SASL2 login (legacy SASL PLAIN + resource bind), tracked by resource. */
  legacyLogin(o: { jid: string; password: string; resource: string; keepConnected?: boolean }): Promise<SandboxClient>;
  /** An OAuth-style grant created through mod_tokenauth's API on the server (client of type "access" that never logged in). Returns the grant id as the module reports it, e.g. "grant/xyz". */
  createGrant(jid: string, o?: GrantClientInfo): Promise<string>;
  /**
   * A grant like createGrant's plus an access token for it (purpose "oauth2", what mod_http_oauth2
   * hands out and SASL OAUTHBEARER accepts). The token is a secret: for logins only.
   */
  createAccessToken(jid: string, o?: GrantClientInfo): Promise<{ grantId: string; token: string }>;
  /**
   * A raw c2s connection after STARTTLS (see raw-client.ts), closed by stop() at the latest.
   * `from` goes into the stream header (the server offers FAST only when it knows the account).
   */
  rawConnect(o?: { host?: string; from?: string }): Promise<RawXmppConnection>;
  /**
   * Many accounts with realistic clients, made the way a server gets them: accounts through
   * usermanager (one admin-socket request), clients through real logins over c2s (in parallel),
   * grants through mod_tokenauth's API. Returns what was made, with the ids the module lists.
   */
  populate(o: PopulateOptions): Promise<PopulatedAccount[]>;
  /** Prosody's log so far (the sandbox's own file). */
  readLog(): string;
  /** Runs `prosodyctl --config <cfg> shell ...args`; returns code/stdout/stderr. */
  shell(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Evaluates Lua through the admin socket (`>` mode, global environment). Returns the result text without "Result: "; throws on an error result. For test setup/inspection only. */
  lua(code: string): Promise<string>;
  stop(): Promise<void>;
}

const HOST = "camctl.test";
const STRICT_HOST = "strict.camctl.test";
const BARE_HOST = "bare.camctl.test";
const START_TIMEOUT_MS = 20_000;
const CLIENT_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;

// ---------------------------------------------------------------------------
// Paths

function findRepoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg) && fs.existsSync(path.join(dir, "test", "fixtures", "prosody-plugins"))) {
      try {
        if (JSON.parse(fs.readFileSync(pkg, "utf8")).name === "camctl") return dir;
      } catch {
        /* keep looking */
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("camctl sandbox: cannot find the repository root above " + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

function pluginPaths(repoRoot: string, extra: string[] = []): string[] {
  const fromEnv = (process.env.CAMCTL_PROSODY_PLUGIN_PATHS ?? "").split(":").filter((p) => p.length > 0);
  const all = [
    ...fromEnv,
    ...extra,
    path.join(repoRoot, "test", "fixtures", "prosody-plugins"),
    path.join(repoRoot, "prosody"),
  ].map((p) => path.resolve(p));
  return [...new Set(all)];
}

function tempBase(): string {
  // Unix socket paths are limited to ~107 bytes.
  const t = os.tmpdir();
  return t.length <= 60 ? t : "/tmp";
}

// ---------------------------------------------------------------------------
// Process bookkeeping: nothing may outlive the test process

const live = new Set<SandboxImpl>();
let hooksInstalled = false;

function killAllNow(): void {
  for (const sb of live) sb.killNow();
}

function onSignal(signal: NodeJS.Signals): void {
  killAllNow();
  removeHooks();
  // Keep the default meaning of the signal unless someone else handles it.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", killAllNow);
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}

function removeHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.off("exit", killAllNow);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
}

// ---------------------------------------------------------------------------
// Helpers

/** A free TCP port on 127.0.0.1 (also used by the test sshd). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(opts: net.NetConnectOpts): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection(opts);
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves true when `p` settles within `ms`, false otherwise; leaves no timer behind. */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(() => true),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function tail(file: string, lines: number): string {
  try {
    const text = fs.readFileSync(file, "utf8");
    return text.split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** The log without the connect/disconnect noise of the readiness probes. */
function logExcerpt(file: string, lines: number): string {
  try {
    const text = fs.readFileSync(file, "utf8");
    return text
      .split("\n")
      .filter((l) => !/\t(?:Client connected|Client disconnected|Admin client disconnected)\b/.test(l))
      .slice(-lines)
      .join("\n");
  } catch {
    return "";
  }
}

const MODULE_LOAD_ERROR = /\terror\tError initializing module|\terror\tUnable to load module|\terror\tFailed to load module/;

/** "20260101000000Z", the time format of `openssl ca -startdate/-enddate`. */
const opensslTime = (d: Date) => d.toISOString().replace(/[-:T]/g, "").replace(/\.\d+Z$/, "Z");

async function makeCertificates(
  dir: string,
  hosts: string[],
  validity?: { notBefore: Date; notAfter: Date },
): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  // Prosody indexes the 'certificates' directory; keep the server's files there.
  const certDir = path.join(dir, "certs");
  fs.mkdirSync(certDir, { recursive: true });
  const caKey = path.join(dir, "ca.key");
  const caFile = path.join(dir, "ca.pem");
  const keyFile = path.join(certDir, hosts[0] + ".key");
  const csr = path.join(dir, "server.csr");
  const certFile = path.join(certDir, hosts[0] + ".crt");
  const ext = path.join(dir, "server.ext");
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await execFileP("openssl", [
    "req", "-x509", ...ec, "-keyout", caKey, "-out", caFile, "-days", "7",
    "-subj", "/CN=camctl sandbox CA " + randomUUID(),
    "-addext", "basicConstraints=critical,CA:TRUE",
    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await execFileP("openssl", ["req", "-new", ...ec, "-keyout", keyFile, "-out", csr, "-subj", "/CN=" + hosts[0]]);
  fs.writeFileSync(
    ext,
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=" + [...hosts.map((h) => "DNS:" + h), "IP:127.0.0.1"].join(","),
      "",
    ].join("\n"),
  );
  if (validity) {
    // `openssl x509 -req` (OpenSSL 3.0) signs only from now on; `openssl ca` takes any dates.
    const caDir = path.join(dir, "ca-db");
    fs.mkdirSync(path.join(caDir, "new"), { recursive: true });
    fs.writeFileSync(path.join(caDir, "index.txt"), "");
    fs.writeFileSync(path.join(caDir, "serial"), "01\n");
    const cnf = path.join(caDir, "ca.cnf");
    fs.writeFileSync(cnf, [
      "[ ca ]", "default_ca = sandbox", "[ sandbox ]",
      `database = ${path.join(caDir, "index.txt")}`, `new_certs_dir = ${path.join(caDir, "new")}`, `serial = ${path.join(caDir, "serial")}`,
      "default_md = sha256", "policy = any", "unique_subject = no", "[ any ]", "commonName = supplied", "",
    ].join("\n"));
    await execFileP("openssl", [
      "ca", "-batch", "-config", cnf, "-cert", caFile, "-keyfile", caKey, "-in", csr, "-out", certFile, "-notext",
      "-startdate", opensslTime(validity.notBefore), "-enddate", opensslTime(validity.notAfter), "-extfile", ext,
    ]);
    fs.rmSync(caDir, { recursive: true, force: true });
  } else {
    await execFileP("openssl", [
      "x509", "-req", "-in", csr, "-CA", caFile, "-CAkey", caKey, "-CAcreateserial",
      "-out", certFile, "-days", "7", "-extfile", ext,
    ]);
  }
  fs.rmSync(caKey, { force: true }); // nobody needs to sign anything else
  fs.rmSync(csr, { force: true });
  fs.rmSync(path.join(dir, "ca.srl"), { force: true });
  fs.rmSync(ext, { force: true });
  fs.chmodSync(keyFile, 0o600);
  return { caFile, certFile, keyFile };
}

function luaList(items: string[]): string {
  return "{ " + items.map(luaString).join(", ") + " }";
}

interface ConfigInput {
  dir: string;
  c2sPort: number;
  directTlsPort: number;
  plugins: string[];
  admins: string[];
  extraModules: string[];
  certFile: string;
  keyFile: string;
  storage: "internal" | "sqlite" | "sql";
  sql?: string;
  /** The admin socket's path, when not the sandbox directory's prosody.sock (isolated). */
  adminSocket?: string;
  globalOptions?: Record<string, string | boolean | number>;
  hostOptions?: Record<string, string | boolean | number>;
}

function luaOptions(options: Record<string, string | boolean | number> | undefined, indent: string): string {
  return Object.entries(options ?? {}).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`camctl sandbox: not an option name: ${k}`);
    return `${indent}${k} = ${typeof v === "string" ? luaString(v) : String(v)}\n`;
  }).join("");
}

function storageConfig(c: ConfigInput): string {
  if (c.storage === "sql") return `storage = "sql"\nsql = ${c.sql}`;
  if (c.storage === "sqlite") {
    return `storage = "sql"
sql = { driver = "SQLite3", database = ${luaString(path.join(c.dir, "prosody.sqlite"))} }`;
  }
  return `storage = "internal"`;
}

function renderConfig(c: ConfigInput): string {
  const p = (name: string) => luaString(path.join(c.dir, name));
  const globalModules = [
    "roster", "saslauth", "tls", "disco", "ping",
    "sasl2", "sasl2_bind2", "sasl2_fast", "tokenauth",
    "admin_shell", "admin_socket",
  ];
  return `-- Generated by camctl's test sandbox (test/sandbox/sandbox.ts). Throw-away.
pidfile = ${p("prosody.pid")}
data_path = ${p("data")}
admin_socket = ${c.adminSocket === undefined ? p("prosody.sock") : luaString(c.adminSocket)}
run_as_root = true
daemonize = false
log = { ${process.env.CAMCTL_SANDBOX_DEBUG ? "debug" : "info"} = ${p("prosody.log")} }
plugin_paths = ${luaList(c.plugins)}

interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { ${c.c2sPort} }
c2s_interfaces = { "127.0.0.1" }
c2s_direct_tls_ports = { ${c.directTlsPort} }
c2s_direct_tls_interfaces = { "127.0.0.1" }
s2s_ports = {}
s2s_direct_tls_ports = {}
component_ports = {}
http_ports = {}
https_ports = {}

c2s_require_encryption = true
authentication = "internal_hashed"
${storageConfig(c)}
admins = ${luaList(c.admins)}
certificates = ${p("certs")}
ssl = { certificate = ${luaString(c.certFile)}, key = ${luaString(c.keyFile)} }

modules_enabled = ${luaList(globalModules)}
${luaOptions(c.globalOptions, "")}
VirtualHost "${HOST}"
  modules_enabled = ${luaList(["client_management", ...c.extraModules])}
${luaOptions(c.hostOptions, "  ")}
VirtualHost "${STRICT_HOST}"
  modules_enabled = { "client_management" }
  enforce_client_ids = true

VirtualHost "${BARE_HOST}"
`;
}

let sqliteChecked: boolean | undefined;

/**
 * Whether Prosody can open SQLite databases here: LuaDBI with its SQLite3 driver (Debian:
 * lua-dbi-sqlite3, which test/sandbox/install-prosody.sh installs) or LuaSQLite3.
 */
export function sqliteStorageAvailable(): boolean {
  sqliteChecked ??=
    spawnSync("lua5.4", ["-e", `if not pcall(require, "lsqlite3") then require "DBI"; require "dbd.sqlite3" end`], { stdio: "ignore" })
      .status === 0;
  return sqliteChecked;
}

function splitJid(jid: string): { local: string; domain: string } {
  const at = jid.indexOf("@");
  const slash = jid.indexOf("/");
  if (at <= 0 || (slash !== -1 && slash < at)) throw new Error(`camctl sandbox: not a bare user JID: ${jid}`);
  return { local: jid.slice(0, at), domain: slash === -1 ? jid.slice(at + 1) : jid.slice(at + 1, slash) };
}

// ---------------------------------------------------------------------------

class SandboxImpl implements Sandbox {
  readonly host = HOST;
  readonly strictHost = STRICT_HOST;
  readonly bareHost = BARE_HOST;
  readonly configPath: string;
  socketPath: string;
  readonly logFile: string;
  /** isolated: the namespace's Prosody, as seen from outside (the pid nsenter enters). */
  isolatedPid = 0;
  private isolated: SandboxOptions["isolated"];
  c2sPort = 0;
  directTlsPort = 0;
  pid = 0;
  caFile = "";
  storage: "internal" | "sqlite" | "sql" = "internal";
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private hasExited = true;
  private clients = new Set<OpenClient>();
  private rawConnections = new Set<RawXmppConnection>();
  private stopping: Promise<void> | null = null;
  private caPem = "";

  constructor(readonly dir: string) {
    this.configPath = path.join(dir, "prosody.cfg.lua");
    this.socketPath = path.join(dir, "prosody.sock");
    this.logFile = path.join(dir, "prosody.log");
  }

  async start(opts: SandboxOptions): Promise<void> {
    const repoRoot = findRepoRoot();
    this.storage = opts.sql !== undefined ? "sql" : opts.storage ?? "internal";
    this.isolated = opts.isolated;
    if (this.storage === "sqlite" && !sqliteStorageAvailable()) {
      throw new Error("camctl sandbox: storage \"sqlite\" needs LuaDBI's SQLite3 driver (Debian: lua-dbi-sqlite3; see test/sandbox/install-prosody.sh)");
    }
    fs.mkdirSync(path.join(this.dir, "data"), { recursive: true, mode: 0o700 });
    const certs = await makeCertificates(this.dir, [HOST, STRICT_HOST, BARE_HOST], opts.certificateValidity);
    this.caFile = certs.caFile;
    this.caPem = fs.readFileSync(certs.caFile, "utf8");
    const admins = (opts.admins ?? []).map((a) => (a.includes("@") ? a : `${a}@${HOST}`));
    const testModules = Object.entries(opts.testModules ?? {});
    const testPlugins = path.join(this.dir, "test-plugins");
    for (const [name, source] of testModules) {
      fs.mkdirSync(path.join(testPlugins, `mod_${name}`), { recursive: true });
      fs.writeFileSync(path.join(testPlugins, `mod_${name}`, `mod_${name}.lua`), source);
    }

    let lastError: Error | null = null;
    for (let attempt = 0; attempt < 3; attempt++) {
      this.c2sPort = await freePort();
      do this.directTlsPort = await freePort();
      while (this.directTlsPort === this.c2sPort);
      fs.writeFileSync(
        this.configPath,
        renderConfig({
          dir: this.dir,
          c2sPort: this.c2sPort,
          directTlsPort: this.directTlsPort,
          plugins: pluginPaths(repoRoot, [...(opts.pluginPaths ?? []), ...(testModules.length > 0 ? [testPlugins] : [])]),
          admins,
          extraModules: [
            ...(opts.extraModules ?? []),
            ...(opts.serveXep0494 ? ["test_xep0494"] : []),
            ...testModules.map(([name]) => name),
          ],
          certFile: certs.certFile,
          keyFile: certs.keyFile,
          storage: this.storage,
          sql: opts.sql,
          adminSocket: opts.isolated?.socketInside,
          globalOptions: opts.globalOptions,
          hostOptions: opts.hostOptions,
        }),
      );
      fs.rmSync(this.logFile, { force: true });
      this.spawnProsody();
      try {
        await this.waitReady();
        return;
      } catch (e) {
        lastError = e as Error;
        await this.kill();
        if (!(e as { portConflict?: boolean }).portConflict) break;
      }
    }
    throw lastError ?? new Error("camctl sandbox: start failed");
  }

  private spawnProsody(): void {
    const consoleLog = fs.openSync(path.join(this.dir, "console.log"), "a");
    // isolated: the tmpfs is mounted in the new mount namespace only (unshare makes it private);
    // --kill-child ends Prosody with unshare.
    const [program, args] = this.isolated
      ? ["unshare", ["--mount", "--pid", "--fork", "--kill-child", "--propagation", "private", "--", "sh", "-c",
          'mkdir -p "$1" && mount -t tmpfs -o mode=0755 camctl-container "$1" && exec prosody --config "$2"',
          "sh", path.dirname(this.isolated.socketInside), this.configPath]] as const
      : ["prosody", ["--config", this.configPath]] as const;
    const child = spawn(program, [...args], {
      cwd: this.dir,
      stdio: ["ignore", consoleLog, consoleLog],
      env: { ...process.env },
    });
    fs.closeSync(consoleLog);
    this.child = child;
    this.hasExited = false;
    this.exited = new Promise((resolve) => {
      child.once("exit", () => {
        this.hasExited = true;
        resolve();
      });
      child.once("error", () => {
        this.hasExited = true;
        resolve();
      });
    });
    if (child.pid === undefined) throw new Error("camctl sandbox: could not start prosody (is it installed?)");
    this.pid = child.pid;
  }

  /** The namespace's Prosody: unshare's child (sh, which became prosody). */
  private findIsolatedProsody(): void {
    try {
      const children = fs.readFileSync(`/proc/${this.pid}/task/${this.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
      const pid = Number(children[0]);
      if (!pid || !fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("prosody")) return;
      this.isolatedPid = pid;
      this.socketPath = `/proc/${pid}/root${this.isolated!.socketInside}`;
    } catch {
      // not yet
    }
  }

  private failure(reason: string, portConflict = false): Error {
    const err = new Error(
      `camctl sandbox: ${reason}\n--- ${this.logFile} (tail) ---\n${logExcerpt(this.logFile, 60)}\n` +
        `--- console (tail) ---\n${tail(path.join(this.dir, "console.log"), 20)}`,
    );
    (err as { portConflict?: boolean }).portConflict = portConflict;
    return err;
  }

  private async waitReady(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    const probe =
      `>return (prosody.hosts[${luaString(HOST)}] and prosody.hosts[${luaString(HOST)}].modules.client_management` +
      ` and prosody.hosts[${luaString(STRICT_HOST)}] and prosody.hosts[${luaString(STRICT_HOST)}].modules.client_management` +
      ` and prosody.hosts[${luaString(BARE_HOST)}]) and "ready" or "starting"`;
    while (Date.now() < deadline) {
      if (this.hasExited) throw this.failure("prosody exited during start-up");
      const log = tail(this.logFile, 400);
      if (/Failed to open server port/.test(log)) {
        throw this.failure("a port was taken while starting", true);
      }
      if (MODULE_LOAD_ERROR.test(log)) throw this.failure("a module failed to load");
      if (this.isolated && this.isolatedPid === 0) this.findIsolatedProsody();
      if (fs.existsSync(this.socketPath)) {
        const ports =
          (await canConnect({ host: "127.0.0.1", port: this.c2sPort })) &&
          (await canConnect({ host: "127.0.0.1", port: this.directTlsPort }));
        if (ports) {
          let r: Awaited<ReturnType<typeof replRequest>> | undefined;
          try {
            r = await replRequest(this.socketPath, probe, 2000);
          } catch {
            /* not yet */
          }
          if (r && !r.error && r.result === "Result: ready") {
            if (/Failed to open server port/.test(tail(this.logFile, 200))) {
              throw this.failure("a port was taken while starting", true);
            }
            return;
          }
        }
      }
      await sleep(50);
    }
    throw this.failure(`prosody did not become ready within ${START_TIMEOUT_MS} ms`);
  }

  /** Synchronous last resort (process exit / signal). $CAMCTL_SANDBOX_KEEP=1 keeps the directory for inspection. */
  killNow(): void {
    for (const c of this.clients) c.destroy();
    this.clients.clear();
    for (const c of this.rawConnections) c.destroy();
    this.rawConnections.clear();
    if (this.child && !this.hasExited) {
      try {
        process.kill(this.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    if (!process.env.CAMCTL_SANDBOX_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
    live.delete(this);
  }

  private async kill(): Promise<void> {
    if (!this.child || this.hasExited) return;
    try {
      process.kill(this.pid, "SIGTERM");
    } catch {
      return;
    }
    if (!(await within(this.exited, STOP_GRACE_MS))) {
      try {
        process.kill(this.pid, "SIGKILL");
      } catch {
        /* gone */
      }
      await within(this.exited, 2000);
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const c of this.clients) c.destroy();
      this.clients.clear();
      for (const c of this.rawConnections) c.destroy();
      this.rawConnections.clear();
      await this.kill();
      if (!process.env.CAMCTL_SANDBOX_KEEP) fs.rmSync(this.dir, { recursive: true, force: true });
      live.delete(this);
      if (live.size === 0) removeHooks();
    })();
    return this.stopping;
  }

  // -------------------------------------------------------------------------

  private target(domain: string): ConnectTarget {
    if (![HOST, STRICT_HOST, BARE_HOST].includes(domain)) {
      throw new Error(`camctl sandbox: ${domain} is not a sandbox host`);
    }
    return { port: this.c2sPort, domain, ca: this.caPem, timeoutMs: CLIENT_TIMEOUT_MS };
  }

  private async keepOrClose(client: OpenClient, keep: boolean | undefined): Promise<SandboxClient> {
    if (!keep) {
      await client.close();
      return {
        jid: client.jid,
        iq: () => Promise.reject(new Error("iq(): this client was not kept connected")),
        close: async () => {},
      };
    }
    this.clients.add(client);
    return {
      jid: client.jid,
      iq: (stanza, timeoutMs) => client.iq(stanza, timeoutMs),
      close: async () => {
        await client.close();
        this.clients.delete(client);
      },
    };
  }

  async createAccount(localpart: string, host: string = HOST, password?: string): Promise<{ jid: string; password: string }> {
    const jid = `${localpart}@${host}`;
    const pw = password ?? randomBytes(18).toString("base64url");
    const r = await replRequest(this.socketPath, `user:create(${luaString(jid)}, ${luaString(pw)})`);
    if (r.error || !r.result.startsWith("OK:")) {
      throw new Error(`camctl sandbox: could not create ${jid}: ${r.result}`);
    }
    return { jid, password: pw };
  }

  async sasl2Login(o: {
    jid: string;
    password: string;
    userAgentId: string;
    software?: string;
    version?: string;
    device?: string;
    keepConnected?: boolean;
    requestFast?: boolean;
    mechanism?: "PLAIN" | "SCRAM-SHA-1";
  }): Promise<SandboxClient> {
    const { local, domain } = splitJid(o.jid);
    const client = await sasl2Connect(this.target(domain), {
      username: local,
      password: o.password,
      userAgentId: o.userAgentId,
      software: o.software,
      version: o.version,
      device: o.device,
      requestFast: o.requestFast,
      mechanism: o.mechanism,
    });
    return this.keepOrClose(client, o.keepConnected);
  }

  async legacyLogin(o: { jid: string; password: string; resource: string; keepConnected?: boolean }): Promise<SandboxClient> {
    const { local, domain } = splitJid(o.jid);
    const client = await legacyConnect(this.target(domain), { username: local, password: o.password, resource: o.resource });
    return this.keepOrClose(client, o.keepConnected);
  }

  /** Lua that makes a grant for `bare` on `domain` (local `grant`), optionally with a token of `purpose` (local `token`). */
  private grantLua(domain: string, bare: string, o: GrantClientInfo, purpose: string): string {
    const info: string[] = [];
    if (o.software !== undefined) info.push(`name = ${luaString(o.software)}`);
    if (o.softwareId !== undefined) info.push(`id = ${luaString(o.softwareId)}`);
    if (o.version !== undefined) info.push(`version = ${luaString(o.version)}`);
    if (o.uri !== undefined) info.push(`uri = ${luaString(o.uri)}`);
    const ttl = o.ttlSeconds !== undefined ? String(Math.floor(o.ttlSeconds)) : "nil";
    // The shape mod_http_oauth2 gives its grants: data naming the OAuth client.
    return `local tokenauth = prosody.hosts[${luaString(domain)}] and prosody.hosts[${luaString(domain)}].modules.tokenauth
if not tokenauth then return nil, "mod_tokenauth is not loaded on ${domain}" end
local grant, err = tokenauth.create_grant(${luaString(bare)}, ${luaString(bare)}, ${ttl}, { oauth2_client = { ${info.join(", ")} } })
if not grant then return nil, "create_grant: " .. tostring(err) end
local token, terr = tokenauth.create_token(${luaString(bare)}, grant, nil, ${ttl}, ${luaString(purpose)})
if not token then return nil, "create_token: " .. tostring(terr) end`;
  }

  async createGrant(jid: string, o: GrantClientInfo = {}): Promise<string> {
    const { local, domain } = splitJid(jid);
    // One refresh token, which never leaves the server.
    const grantId = await this.lua(`${this.grantLua(domain, `${local}@${domain}`, o, "oauth2-refresh")}
return grant.id`);
    const reported = await this.lua(`local host = prosody.hosts[${luaString(domain)}]
local cm = host and host.modules.client_management
if not cm then return "" end
for _, c in ipairs(cm.get_active_clients(${luaString(local)}) or {}) do
  if c.active and c.active.grant and c.active.grant.id == ${luaString(grantId)} then return c.id end
end
return ""`);
    return reported !== "" ? reported : `grant/${grantId}`;
  }

  async createAccessToken(jid: string, o: GrantClientInfo = {}): Promise<{ grantId: string; token: string }> {
    const { local, domain } = splitJid(jid);
    const text = await this.lua(`${this.grantLua(domain, `${local}@${domain}`, o, "oauth2")}
return grant.id .. " " .. token`);
    const [grantId, token] = text.split(" ") as [string, string];
    return { grantId: `grant/${grantId}`, token };
  }

  async populate(o: PopulateOptions): Promise<PopulatedAccount[]> {
    const host = o.host ?? HOST;
    const prefix = o.prefix ?? "pop";
    const target = this.target(host);
    const specsFor = (i: number) => (typeof o.clients === "function" ? o.clients(i) : o.clients ?? DEFAULT_POPULATE_CLIENTS);

    // Accounts: one request, through usermanager (the same call `prosodyctl register` makes).
    const accounts: PopulatedAccount[] = [];
    for (let i = 0; i < o.accounts; i++) {
      const localpart = `${prefix}${i + 1}`;
      accounts.push({ jid: `${localpart}@${host}`, localpart, password: randomBytes(12).toString("base64url"), clients: [] });
    }
    const created = await this.luaLong(
      `local um = require "prosody.core.usermanager"
local host = ${luaString(host)}
for _, a in ipairs(${"{ " + accounts.map((a) => `{ ${luaString(a.localpart)}, ${luaString(a.password)} }`).join(", ") + " }"}) do
  if um.user_exists(a[1], host) then return "exists: " .. a[1] end
  local ok, err = um.create_user(a[1], a[2], host)
  if not ok then return "failed: " .. a[1] .. ": " .. tostring(err) end
end
return "ok"`,
      60_000 + o.accounts * 50,
    );
    if (created !== "ok") throw new Error(`camctl sandbox: populate could not create the accounts (${created})`);

    // Clients: real logins, several in flight.
    type Job = { account: PopulatedAccount; spec: Extract<PopulateClientSpec, { kind: "sasl2" | "legacy" }>; slot: number };
    const jobs: Job[] = [];
    const grants: Array<{ account: PopulatedAccount; spec: Extract<PopulateClientSpec, { kind: "grant" }>; slot: number }> = [];
    accounts.forEach((account, i) => {
      specsFor(i).forEach((spec, slot) => {
        account.clients.push({ kind: spec.kind, id: "", software: null, device: null, fullJid: null, fastToken: null, connection: null });
        if (spec.kind === "grant") grants.push({ account, spec, slot });
        else jobs.push({ account, spec, slot });
      });
    });
    const runJob = async ({ account, spec, slot }: Job) => {
      const client = account.clients[slot]!;
      const conn = await this.rawConnect({ host, from: account.jid });
      try {
        if (spec.kind === "sasl2") {
          const id = spec.userAgentId ?? randomUUID();
          const r = await rawSasl2(
            conn,
            host,
            {
              username: account.localpart,
              mechanism: "PLAIN",
              secret: account.password,
              userAgent: { id, software: spec.software, device: spec.device },
              bindTag: spec.software ?? "client",
              requestFastToken: spec.fastToken,
            },
            target.timeoutMs,
          );
          if (!r.ok) throw new Error(`SASL2 login of ${account.jid} failed: ${String(r.failure)}`);
          Object.assign(client, { id: `client/${id}`, software: spec.software ?? null, device: spec.device ?? null, fullJid: r.jid, fastToken: r.fastToken });
        } else {
          const resource = spec.resource ?? `legacy-${randomBytes(4).toString("hex")}`;
          client.fullJid = await rawLegacyLogin(conn, { username: account.localpart, password: account.password, resource }, target.timeoutMs);
        }
      } catch (e) {
        conn.destroy();
        this.rawConnections.delete(conn);
        throw e;
      }
      if (spec.keepConnected) {
        client.connection = conn;
      } else {
        await conn.close();
        this.rawConnections.delete(conn);
      }
    };
    let next = 0;
    const worker = async () => {
      while (next < jobs.length) await runJob(jobs[next++]!);
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency ?? 6, jobs.length)) }, worker));

    // Grants: mod_tokenauth's API, one request per account.
    for (const account of accounts) {
      const mine = grants.filter((g) => g.account === account);
      if (mine.length === 0) continue;
      const ids = await this.lua(`local ids = {}
${mine
  .map(({ spec }) => `do
${this.grantLua(host, account.jid, spec, "oauth2-refresh")}
ids[#ids + 1] = grant.id
end`)
  .join("\n")}
return table.concat(ids, " ")`);
      ids.split(" ").forEach((grantId, k) => {
        const { spec, slot } = mine[k]!;
        Object.assign(account.clients[slot]!, { id: `grant/${grantId}`, software: spec.software ?? null });
      });
    }

    // Legacy clients get a random id: ask the module which entry has that full JID.
    for (const account of accounts) {
      const legacy = account.clients.filter((c) => c.kind === "legacy");
      if (legacy.length === 0) continue;
      const found = await this.lua(`local cm = prosody.hosts[${luaString(host)}].modules.client_management
local by_jid = {}
for _, c in ipairs(cm.get_active_clients(${luaString(account.localpart)}) or {}) do
  if c.full_jid then by_jid[c.full_jid] = c.id end
end
local out = {}
for _, j in ipairs({ ${legacy.map((c) => luaString(c.fullJid ?? "")).join(", ")} }) do out[#out + 1] = by_jid[j] or "" end
return table.concat(out, "\\n")`);
      found.split("\n").forEach((id, k) => {
        if (id === "") throw new Error(`camctl sandbox: populate: the module does not list ${legacy[k]!.fullJid}`);
        legacy[k]!.id = id;
      });
    }
    return accounts;
  }

  /** lua() with a longer deadline, for big setup requests. */
  private async luaLong(code: string, timeoutMs: number): Promise<string> {
    const r = await replRequest(this.socketPath, ">" + code, timeoutMs);
    if (r.error) throw new Error(`camctl sandbox: Lua failed: ${r.result}`);
    return r.result.startsWith("Result: ") ? r.result.slice("Result: ".length) : r.result;
  }

  async rawConnect(o: { host?: string; from?: string } = {}): Promise<RawXmppConnection> {
    const conn = await RawXmppConnection.open(this.target(o.host ?? HOST), { from: o.from });
    this.rawConnections.add(conn);
    return conn;
  }

  readLog(): string {
    try {
      return fs.readFileSync(this.logFile, "utf8");
    } catch {
      return "";
    }
  }

  shell(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      // Without COLUMNS and a terminal, the shell asks for its default width (130 usable columns).
      const { COLUMNS: _columns, ...env } = process.env;
      const child = spawn("prosodyctl", ["--config", this.configPath, "shell", ...args], {
        cwd: this.dir,
        stdio: ["ignore", "pipe", "pipe"],
        env,
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      child.on("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
      });
    });
  }

  async lua(code: string): Promise<string> {
    const r = await replRequest(this.socketPath, ">" + code);
    if (r.error) throw new Error(`camctl sandbox: Lua failed: ${r.result}`);
    return r.result.startsWith("Result: ") ? r.result.slice("Result: ".length) : r.result;
  }
}

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  const dir = fs.mkdtempSync(path.join(tempBase(), "camctl-sandbox-"));
  const sb = new SandboxImpl(dir);
  live.add(sb);
  installHooks();
  try {
    await sb.start(opts);
  } catch (e) {
    await sb.stop();
    throw e;
  }
  return sb;
}
