// Misbehaving peers and process helpers for the tests of faults and hostile servers: unix-socket
// peers that play a broken Prosody admin socket, TCP peers that play a broken XMPP server, a
// self-signed certificate for them, a stale socket file, and a way to run camctl as another user.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { CAMCTL_BIN } from "./run-camctl.js";

export interface Peer {
  /** Unix socket path or "127.0.0.1:<port>". */
  address: string;
  port: number;
  /** Everything received, per connection, as latin1 text. */
  received: string[];
  /** Resolves when the first connection has received text matching `re`. */
  waitFor(re: RegExp): Promise<void>;
  close(): Promise<void>;
}

/** What a peer does with each connection; `received()` is what this connection has sent so far. */
export type PeerBehaviour = (sock: net.Socket, received: () => string) => void;

function listen(server: net.Server, where: string | { port: number; host: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    if (typeof where === "string") server.listen(where, () => resolve());
    else server.listen(where.port, where.host, () => resolve());
  });
}

async function peer(where: string | { port: number; host: string }, behaviour: PeerBehaviour): Promise<Peer> {
  const received: string[] = [];
  const sockets = new Set<net.Socket>();
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (received.some((r) => w.re.test(r))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  const server = net.createServer((sock) => {
    sockets.add(sock);
    const index = received.push("") - 1;
    sock.on("data", (d) => {
      received[index] += d.toString("latin1");
      check();
    });
    sock.on("error", () => undefined);
    sock.on("close", () => sockets.delete(sock));
    behaviour(sock, () => received[index]!);
  });
  await listen(server, where);
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  return {
    address: typeof where === "string" ? where : `127.0.0.1:${port}`,
    port,
    received,
    waitFor: (re) =>
      new Promise<void>((resolve) => {
        waiters.push({ re, resolve });
        check();
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A unix-socket peer at `path`. */
export const unixPeer = (path: string, behaviour: PeerBehaviour) => peer(path, behaviour);

/** A TCP peer on a free loopback port. */
export const tcpPeer = (behaviour: PeerBehaviour) => peer({ port: 0, host: "127.0.0.1" }, behaviour);

/** A self-signed certificate for `name` (made with openssl in `dir`): a fake server's, trusted with --ca-file. */
export function selfSignedCert(dir: string, name: string): { certFile: string; key: string; cert: string } {
  const certFile = path.join(dir, `${name}.pem`);
  const keyFile = path.join(dir, `${name}.key`);
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", `/CN=${name}`, "-addext", `subjectAltName=DNS:${name}`,
  ], { stdio: "ignore" });
  return { certFile, key: fs.readFileSync(keyFile, "utf8"), cert: fs.readFileSync(certFile, "utf8") };
}

/** Calls `fn` once, as soon as what this connection received matches `re`. */
export function when(sock: net.Socket, received: () => string, re: RegExp, fn: () => void): void {
  let done = false;
  const test = () => {
    if (!done && re.test(received())) {
      done = true;
      fn();
    }
  };
  sock.on("data", () => setImmediate(test));
}

/** The stream header Prosody's admin socket answers with. */
export const ADMIN_HEADER =
  "<?xml version='1.0'?><stream:stream xmlns='xmpp:prosody.im/admin' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

/**
 * A unix-socket peer that speaks the admin stream's framing: it answers camctl's stream header
 * with Prosody's, then each <repl-input> with what `answer` returns for it (written as is; "" says
 * nothing). `answer` also gets the connection, for peers that go on writing on their own.
 */
export function adminPeer(path: string, answer: (request: string, sock: net.Socket) => string): Promise<Peer> {
  return unixPeer(path, (sock, received) => {
    let headerSent = false;
    let answered = 0;
    sock.on("data", () =>
      setImmediate(() => {
        if (sock.destroyed) return;
        const text = received();
        if (!headerSent && /<stream:stream/.test(text)) {
          headerSent = true;
          sock.write(ADMIN_HEADER);
        }
        const requests = text.split("</repl-input>").slice(0, -1);
        for (const request of requests.slice(answered)) {
          answered++;
          const reply = answer(request.slice(request.indexOf("<repl-input")), sock);
          if (reply && !sock.destroyed) sock.write(reply);
        }
      }),
    );
  });
}

/** What a shell answers when the request raised: <repl-result type='error'>, as mod_admin_shell sends it. */
export const replErrorResult = (text: string) => `<repl-result type='error'>${text.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</repl-result>`;

/**
 * An admin socket whose answer never ends: from the first request on, it streams host-scan records
 * (camctl's record stream: base64 NDJSON pieces, see src/transports/socket/lua/record_stream.lua) without
 * end and never sends the trailer. Each record is a client of `account` whose software is
 * `software`, with a new id each time; `perPiece` records every 20 ms.
 */
export function endlessRecordsPeer(path: string, account: string, software: string, perPiece = 20): Promise<Peer> {
  let n = 0;
  const now = Math.floor(Date.now() / 1000);
  const piece = () => {
    let lines = "";
    for (let i = 0; i < perPiece; i++) {
      const client = [`grant/endless-${n++}`, "access", false, now - 60, now - 60, null, ["password"], software, null, null, null, null];
      lines += JSON.stringify([account, client]) + "\n";
    }
    return `<repl-output>base64:${Buffer.from(lines).toString("base64")}</repl-output>`;
  };
  return adminPeer(path, (_request, sock) => {
    const timer = setInterval(() => (sock.destroyed ? clearInterval(timer) : sock.write(piece())), 20);
    sock.once("close", () => clearInterval(timer));
    return piece();
  });
}

/**
 * Leaves a socket file at `path` that nobody listens on, the way a crashed server does: a child
 * process binds and listens, then is killed with SIGKILL, so nothing unlinks the file.
 */
export function staleSocket(path: string): void {
  const r = spawnSync(
    process.execPath,
    ["-e", "require('node:net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))", path],
    { stdio: "ignore", timeout: 10_000 },
  );
  if (r.signal !== "SIGKILL") throw new Error(`staleSocket: the child ended with ${r.signal ?? r.status}, not SIGKILL`);
}

/** A command that runs what follows it as `nobody`, or null when this machine has none. */
export function asNobodyPrefix(): string[] | null {
  for (const prefix of [
    ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"],
    ["runuser", "-u", "nobody", "--"],
  ]) {
    const r = spawnSync(prefix[0]!, [...prefix.slice(1), "true"], { stdio: "ignore", timeout: 5000 });
    if (r.status === 0) return prefix;
  }
  return null;
}

let nobodyCopy: { prefix: string[]; bin: string } | { skip: string } | undefined;

/**
 * camctl as `nobody` can run it wherever the checkout lives (a checkout under a 0700 home is out
 * of nobody's reach): bin/ and the self-contained bundle in dist/ copied once into a fresh
 * world-readable directory, removed at exit. Returns the command prefix and the copied bin/camctl,
 * or the reason it cannot be done on this machine.
 */
export function camctlForNobody(): { prefix: string[]; bin: string } | { skip: string } {
  if (nobodyCopy) return nobodyCopy;
  const prefix = asNobodyPrefix();
  if (!prefix) return (nobodyCopy = { skip: "neither setpriv nor runuser can run a command as nobody here" });
  if (spawnSync(prefix[0]!, [...prefix.slice(1), process.execPath, "-e", "0"], { stdio: "ignore", timeout: 10_000 }).status !== 0) {
    return (nobodyCopy = { skip: `nobody cannot run ${process.execPath}` });
  }
  const checkout = path.dirname(path.dirname(CAMCTL_BIN));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-as-nobody-"));
  process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  fs.chmodSync(dir, 0o755);
  for (const part of ["bin", "dist"]) fs.cpSync(path.join(checkout, part), path.join(dir, part), { recursive: true });
  const bin = path.join(dir, "bin", "camctl");
  const check = spawnSync(prefix[0]!, [...prefix.slice(1), process.execPath, bin, "--version"], { encoding: "utf8", timeout: 10_000 });
  if (check.status !== 0) {
    return (nobodyCopy = { skip: `nobody cannot run the copy of camctl in ${dir} (is ${os.tmpdir()} closed to others?): ${check.stderr.trim()}` });
  }
  return (nobodyCopy = { prefix, bin });
}
