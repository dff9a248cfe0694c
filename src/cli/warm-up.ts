// A listing run at build time, so that what a real listing runs is compiled before anyone starts
// camctl: scripts/build.mjs runs it (program.ts warmUp) in the bundle it then makes V8 code caches
// of, and the single executable (bin/single-executable.cjs) before Node takes the start-up snapshot it
// carries (there against the stand-in socket that scripts/build-sea.mjs serves from its own process).
// It lists one client from a stand-in admin socket (as a table and as JSON, with the account's
// facts as lua.ts listChunk asks for them) and, unless told not to, fails to connect once;
// nothing is written anywhere.
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { IOStreams } from "../term/iostreams.js";
import type { Deps } from "./deps.js";

type Main = (argv: string[], overrides?: Partial<Deps>) => Promise<number>;

/** The admin socket's reply to the listing: one client record and a trailer with the facts. */
function listingReply(jid: string): string {
  const now = Math.floor(Date.now() / 1000);
  const record = ["grant/warm-up", "access", false, now - 86400, now - 60, null, ["grant"], "Warm-up client", null, null, "https://example.com/", null];
  const line = JSON.stringify(record) + "\n";
  const facts = { facts: true, status: "enabled", password_updated: now - 86400 * 30, last_activity: now - 60, activity_source: "account_activity" };
  const trailer = { bytes: Buffer.byteLength(line), jid, more: false, pieces: 1, records: 1, ...facts };
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  return `<repl-output>base64:${b64(line)}</repl-output><repl-result>Result: base64:${b64(JSON.stringify(trailer))}</repl-result>`;
}

/** What to run besides the listings, and against what. */
export interface WarmUpOptions {
  /**
   * A listing that cannot connect, too. The code caches take it (a refused socket then starts
   * faster); the single executable's snapshot does not: every start would load its error state.
   */
  failedConnect?: boolean;
  /**
   * A stand-in socket already listening (startStandIn, run by another process): the single
   * executable's build passes one, because a server listening in the snapshot's own process would
   * leave Node's cluster, child_process and dgram modules in every start of the executable.
   */
  socketPath?: string;
}

/** A stand-in admin socket answering the warm-up listing, in a directory of its own. */
export interface StandIn {
  socketPath: string;
  close(): Promise<void>;
}

const JID = "warm-up@example.com";

/** Starts the stand-in admin socket: it answers every request with the listing's reply. */
export async function startStandIn(): Promise<StandIn> {
  const reply = listingReply(JID);
  const dir = mkdtempSync(join(tmpdir(), "camctl-warm-up-"));
  const socketPath = join(dir, "admin.sock");
  const server = createServer((c) => {
    c.setEncoding("latin1")
      .on("data", (d: string) => {
        if (d.includes("<stream:stream")) c.write("<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='xmpp:prosody.im/admin' xml:lang='en' id=''>");
        if (d.includes("</repl-input>")) c.write(reply);
        if (d.includes("</stream:stream>")) c.end("</stream:stream>");
      })
      .on("error", () => {});
  });
  try {
    await new Promise<void>((resolve, reject) => server.once("error", reject).listen(socketPath, resolve));
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    socketPath,
    close: async () => {
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs the listings with `main` (the bundle's own); throws when one does not end as it should. */
export async function warmUp(main: Main, { failedConnect = true, socketPath }: WarmUpOptions = {}): Promise<void> {
  const own = socketPath === undefined ? await startStandIn() : undefined;
  const path = socketPath ?? own!.socketPath;
  try {
    const sink = () => new PassThrough().resume();
    const io = (): IOStreams => ({ stdin: sink(), stdout: sink(), stderr: sink(), stdinIsTTY: false, stdoutIsTTY: false, color: false, width: undefined, now: () => new Date(), env: {} });
    for (const extra of [[], ["--json"]]) {
      const code = await main(["user", "clients", JID, "--socket", path, ...extra], { io: io() });
      if (code !== 0) throw new Error(`the warm-up listing failed (exit ${code}); has the socket's record format changed?`);
    }
    if (failedConnect) await main(["user", "clients", JID, "--socket", `${path}.none`], { io: io() });
  } finally {
    await own?.close();
  }
}
