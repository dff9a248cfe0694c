// Shared by the xmpp*.test.ts integration tests: a private HOME/XDG tree per test (so camctl's
// state lands there and its modes can be checked), password files, and camctl runs over XMPP.
import assert from "node:assert/strict";
import { after } from "node:test";
import { randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Sandbox } from "../sandbox/sandbox.js";
import { runCamctl, type CamctlRun } from "./run-camctl.js";

export type { JsonClient, ClientListJson } from "./client-json.js";
import type { ClientListJson, JsonClient } from "./client-json.js";

/**
 * For a test file: hands out fresh CamctlHomes and removes them all once the file's tests are
 * done. Call it at the top level of the file.
 */
export function homesRemovedAfterAll(): () => CamctlHome {
  const homes: CamctlHome[] = [];
  after(() => {
    for (const h of homes) h.remove();
  });
  return () => {
    const h = new CamctlHome();
    homes.push(h);
    return h;
  };
}

export class CamctlHome {
  readonly dir: string;
  readonly stateDir: string;
  private pwCount = 0;

  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-xmpp-home-"));
    this.stateDir = path.join(this.dir, "state", "camctl");
  }

  get env(): NodeJS.ProcessEnv {
    return {
      HOME: this.dir,
      XDG_STATE_HOME: path.join(this.dir, "state"),
      XDG_CONFIG_HOME: path.join(this.dir, "config"),
      XDG_DATA_HOME: path.join(this.dir, "data"),
      XDG_CACHE_HOME: path.join(this.dir, "cache"),
    };
  }

  /** A 0600 file holding the password, as people should keep one. */
  passwordFile(password: string): string {
    const file = path.join(this.dir, `password-${++this.pwCount}`);
    fs.writeFileSync(file, password + "\n", { mode: 0o600 });
    return file;
  }

  userAgentId(): string {
    return fs.readFileSync(path.join(this.stateDir, "user-agent-id"), "utf8").trim();
  }

  /** Every file and directory camctl keeps: directory 0700, files 0600. */
  assertPrivate(): void {
    assert.equal(fs.statSync(this.stateDir).mode & 0o777, 0o700, "state directory is 0700");
    const files = fs.readdirSync(this.stateDir);
    assert.ok(files.includes("user-agent-id"), files.join(","));
    for (const f of files) assert.equal(fs.statSync(path.join(this.stateDir, f)).mode & 0o777, 0o600, `${f} is 0600`);
    assert.ok(!files.some((f) => f.endsWith(".tmp")), "no temp files left");
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Login {
  jid: string;
  password: string;
}

export interface XmppRunOptions {
  tls?: "starttls" | "direct" | "none";
  /** Trust the sandbox CA (default true). */
  trust?: boolean;
  /** Pass the password in CAMCTL_PASSWORD instead of --password-file. */
  passwordInEnv?: boolean;
  extraEnv?: NodeJS.ProcessEnv;
  timeoutSeconds?: number;
}

/** Runs camctl over XMPP against the sandbox, logged in as `login`. */
export function xmppCamctl(sb: Sandbox, home: CamctlHome, login: Login, args: string[], o: XmppRunOptions = {}): Promise<CamctlRun> {
  const { args: full, env } = xmppInvocation(sb, home, login, args, o);
  return runCamctl(full, { env, timeoutMs: 60_000 });
}

/** The command line and environment xmppCamctl runs camctl with (for tests that start it themselves). */
export function xmppInvocation(sb: Sandbox, home: CamctlHome, login: Login, args: string[], o: XmppRunOptions = {}): { args: string[]; env: NodeJS.ProcessEnv } {
  const tls = o.tls ?? "starttls";
  const port = tls === "direct" ? sb.directTlsPort : sb.c2sPort;
  const full = [...args, "--jid", login.jid, "--server", `127.0.0.1:${port}`, "--timeout", String(o.timeoutSeconds ?? 15)];
  if (tls !== "starttls") full.push("--tls", tls);
  if (o.trust !== false) full.push("--ca-file", sb.caFile);
  const env: NodeJS.ProcessEnv = { ...home.env, ...o.extraEnv };
  if (o.passwordInEnv) env.CAMCTL_PASSWORD = login.password;
  else full.push("--password-file", home.passwordFile(login.password));
  return { args: full, env };
}

export async function xmppList(sb: Sandbox, home: CamctlHome, login: Login, target: string, o: XmppRunOptions = {}): Promise<ClientListJson> {
  const r = await xmppCamctl(sb, home, login, ["user", "clients", target, "--json"], o);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.includes(login.password) && !r.stderr.includes(login.password), "the password never appears");
  return JSON.parse(r.stdout) as ClientListJson;
}

export async function socketList(sb: Sandbox, jid: string): Promise<ClientListJson> {
  const r = await runCamctl(["user", "clients", jid, "--json", "--socket", sb.socketPath], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ClientListJson;
}

export const isCamctl = (c: JsonClient) => c.userAgent.software === "camctl";

/** Asserts one message line on stderr, no stack trace, no password. */
export function assertOneSentence(r: CamctlRun, password?: string): void {
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  if (password) {
    assert.ok(!r.stderr.includes(password) && !r.stdout.includes(password), "the password never appears");
  }
}

/**
 * An account with the kinds of clients real servers have: a connected SASL2 client, one logged
 * out, a connected legacy client and a grant. The kept connections end with the sandbox.
 */
export async function populatedAccount(sb: Sandbox, local: string, host?: string): Promise<Login & { grant: string }> {
  const acct = await sb.createAccount(local, host);
  await sb.sasl2Login({ ...acct, userAgentId: randomUUID(), software: "Gajim", version: "1.9.5", device: "Juliet's laptop", keepConnected: true });
  await sb.sasl2Login({ ...acct, userAgentId: randomUUID(), software: "Conversations", version: "2.17", device: "Pixel 8" });
  await sb.legacyLogin({ ...acct, resource: "old-client", keepConnected: true });
  const grant = await sb.createGrant(acct.jid, { software: "REST client", uri: "https://rest.example/" });
  return { ...acct, grant };
}
