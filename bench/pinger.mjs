// A concurrent XMPP client for the responsiveness figures, run as its own process so the bench's
// own work does not delay it: logs in (STARTTLS, SASL2 PLAIN, Bind2) with the sandbox's raw
// client, then sends an XMPP ping (XEP-0199) to its server every 50 ms, on a fixed schedule (a
// stalled server shows as several slow pings, not one), and prints `<sent at, epoch ms> <rtt ms>`
// per reply. Ends on SIGTERM or when stdin closes; unanswered pings then print rtt -1.
// argv: a JSON object { port, domain, caFile, username, password }.
import fs from "node:fs";

const cfg = JSON.parse(process.argv[2]);
const root = new URL("..", import.meta.url);
const { RawXmppConnection, rawSasl2 } = await import(new URL("build/test/sandbox/raw-client.js", root).href);
const clock = () => performance.timeOrigin + performance.now();
const INTERVAL_MS = 50;

const target = { port: cfg.port, domain: cfg.domain, ca: fs.readFileSync(cfg.caFile, "utf8"), timeoutMs: 10_000 };
const conn = await RawXmppConnection.open(target, { from: `${cfg.username}@${cfg.domain}` });
const r = await rawSasl2(conn, cfg.domain, {
  username: cfg.username,
  mechanism: "PLAIN",
  secret: cfg.password,
  userAgent: { id: "camctl-bench-pinger", software: "camctl bench pinger" },
  bindTag: "pinger",
}, 10_000);
if (!r.ok) {
  process.stderr.write(`pinger: login failed: ${String(r.failure)}\n`);
  process.exit(1);
}
process.stdout.write("ready\n");

const outstanding = new Map();
let n = 0;
let stopping = false;
const out = [];
const flush = () => {
  if (out.length) process.stdout.write(out.splice(0).join(""));
};
const timer = setInterval(() => {
  if (stopping) return;
  const id = `p${++n}`;
  const sentAt = clock();
  outstanding.set(id, sentAt);
  conn.iq(`<iq type='get' id='${id}' to='${cfg.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`, 30_000).then((reply) => {
    const t = clock();
    outstanding.delete(id);
    if (reply) out.push(`${sentAt.toFixed(3)} ${(t - sentAt).toFixed(3)}\n`);
    else out.push(`${sentAt.toFixed(3)} -1\n`);
  });
}, INTERVAL_MS);
const flusher = setInterval(flush, 500);

async function stop() {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  // Give pings in flight a moment, then count the rest as unanswered.
  const end = Date.now() + 2000;
  while (outstanding.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  for (const sentAt of outstanding.values()) out.push(`${sentAt.toFixed(3)} -1\n`);
  clearInterval(flusher);
  flush();
  await conn.close(1000).catch(() => {});
  process.stdout.write("end\n", () => process.exit(0));
}
process.on("SIGTERM", stop);
process.stdin.on("end", stop);
process.stdin.resume();
