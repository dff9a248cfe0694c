// `camctl host clients` through main() with a fake source: what the command itself adds to the
// transport's stream (filtering again, progress line, accounts that could not be read, usage).
import { test } from "node:test";
import assert from "node:assert/strict";
import { main } from "../../src/cli/program.js";
import type { HostClientRecord } from "../../src/core/filters.js";
import type { ClientList, ClientRecord } from "../../src/core/model.js";
import type { ClientSource, HostScan } from "../../src/core/client-source.js";
import type { PreparedSource } from "../../src/transports/lifecycle.js";
import { fakeIO } from "../helpers/fake-io.js";
import { iso } from "../helpers/iso.js";
import { emptyNetwork } from "../../src/core/network.js";

function rec(account: string, id: string, o: Partial<ClientRecord> = {}): HostClientRecord {
  return {
    account,
    id,
    type: "session",
    connected: false,
    firstSeen: iso("2026-11-01T10:00:00Z"),
    lastSeen: iso("2026-11-20T10:00:00Z"),
    expires: null,
    auth: ["password"],
    userAgent: { software: "Gajim", version: null, softwareId: null, uri: null, device: null },
    permission: null,
    ...emptyNetwork(),
    ...o,
  };
}

const ROWS = [
  rec("alice@example.com", "client/a"),
  rec("alice@example.com", "grant/b", { type: "access", auth: ["grant"], userAgent: { software: "Webmail", version: null, softwareId: null, uri: null, device: null } }),
  rec("bob@example.com", "client/c", { connected: true }),
];

/** A source that sends everything, whatever the filter (so camctl's own filtering shows). */
function source(o: { failures?: Array<[string, string]>; scans?: HostScan[]; list?: ClientList } = {}): ClientSource {
  return {
    list: async () => o.list ?? { jid: "alice@example.com", transport: "socket", clients: [] },
    revoke: async () => {
      throw new Error("not used");
    },
    async *listHost(_host: string, scan: HostScan) {
      o.scans?.push(scan);
      scan.onProgress?.({ scanned: 0, total: 2 });
      for (const [account, reason] of o.failures ?? []) scan.onAccountFailed?.(account, reason);
      for (const r of ROWS) yield r;
      scan.onProgress?.({ scanned: 2, total: 2 });
    },
    close: async () => undefined,
  };
}

async function camctl(argv: string[], src: ClientSource, o: { stderrIsTTY?: boolean } = {}) {
  const f = fakeIO();
  f.io.stderrIsTTY = o.stderrIsTTY ?? false;
  const prepared: PreparedSource = { where: "the fake", open: async () => src };
  const code = await main(argv, { io: f.io, prepareSource: async () => prepared });
  return { code, out: f.out(), err: f.err() };
}

const ndjson = (text: string) => text.trimEnd().split("\n").filter(Boolean).map((l) => JSON.parse(l) as HostClientRecord);

test("camctl filters again what arrives, and hands the filter to the source as data", async () => {
  const scans: HostScan[] = [];
  const r = await camctl(["host", "clients", "example.com", "-o", "ndjson", "--connected", "--account", "b*"], source({ scans }));
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(ndjson(r.out).map((x) => x.id), ["client/c"]);
  assert.equal(scans[0]!.filter.connected, true);
  assert.equal(scans[0]!.filter.account, "b*");
});

test("every format: NDJSON a line per record, JSON with host and transport, CSV with account first", async () => {
  const nd = await camctl(["host", "clients", "example.com", "-o", "ndjson"], source());
  assert.deepEqual(ndjson(nd.out), ROWS);
  const json = await camctl(["host", "clients", "Example.COM.", "--json"], source());
  assert.deepEqual(JSON.parse(json.out), { host: "example.com", transport: "socket", clients: ROWS });
  const csv = await camctl(["host", "clients", "example.com", "-o", "csv"], source());
  assert.match(csv.out, /^account,id,type,/);
  assert.equal(csv.out.trimEnd().split("\r\n").length, 4);
  const table = await camctl(["host", "clients", "example.com", "--software", "Nothing"], source());
  assert.equal(table.code, 0);
  assert.equal(table.out, "No clients on example.com match the filters.\n");
});

test("a progress line on stderr only when stderr is a terminal, erased at the end", async () => {
  const tty = await camctl(["host", "clients", "example.com", "-o", "ndjson"], source(), { stderrIsTTY: true });
  assert.equal(tty.code, 0);
  assert.match(tty.err, /^\r\x1b\[2Kscanned 0 \/ 2 accounts/);
  assert.ok(tty.err.endsWith("\r\x1b[2K"), JSON.stringify(tty.err));
  const pipe = await camctl(["host", "clients", "example.com", "-o", "ndjson"], source());
  assert.equal(pipe.err, "");
});

test("accounts the server could not read: the output is complete without them, then exit 9 with one sentence", async () => {
  const r = await camctl(["host", "clients", "example.com", "--json"], source({ failures: [["carol@example.com", "store\x1b[31m broken"], ["dave@example.com", "x"]] }));
  assert.equal(r.code, 9);
  assert.equal(JSON.parse(r.out).clients.length, 3, "the JSON document is whole");
  assert.equal(
    r.err,
    "camctl: The clients of 2 accounts could not be read, so the listing leaves them out: carol@example.com (store\\x1b[31m broken), dave@example.com (x). Prosody's log may say why.\n",
  );
});

test("--summary: a table, or JSON with -o json; not with csv or ndjson", async () => {
  const json = await camctl(["host", "clients", "example.com", "--summary", "-o", "json"], source());
  assert.equal(json.code, 0, json.err);
  const body = JSON.parse(json.out) as { host: string; transport: string; summary: { clients: number; accounts: number; connected: number } };
  assert.deepEqual([body.host, body.transport, body.summary.clients, body.summary.accounts, body.summary.connected], ["example.com", "socket", 3, 2, 1]);
  const text = await camctl(["host", "clients", "example.com", "--summary"], source());
  assert.match(text.out, /^3 clients on 2 accounts of example\.com \(1 connected\)\n/);
  for (const format of ["csv", "ndjson"]) {
    const r = await camctl(["host", "clients", "example.com", "--summary", "-o", format], source());
    assert.equal(r.code, 2);
    assert.match(r.err, /^camctl: --summary prints a table, JSON or OpenMetrics/);
  }
});

test("--summary -o openmetrics with accounts the server could not read: the counts, success 0, how many were unread, exit 9", async () => {
  const r = await camctl(["host", "clients", "example.com", "--summary", "-o", "openmetrics"], source({ failures: [["carol@example.com", "broken"], ["dave@example.com", "x"]] }));
  assert.equal(r.code, 9);
  assert.match(r.err, /^camctl: The clients of 2 accounts could not be read/);
  assert.match(r.out, /^camctl_scan_success\{host="example.com"\} 0$/m);
  assert.match(r.out, /^camctl_scan_unread_accounts\{host="example.com"\} 2$/m);
  assert.match(r.out, /^camctl_scan_accounts\{host="example.com"\} 2$/m);
  assert.match(r.out, /^camctl_clients\{host="example.com"\} 3$/m);
  assert.match(r.out, /^camctl_clients_by_software\{host="example.com",software="Gajim"\} 2$/m);
  assert.ok(r.out.endsWith("\n# EOF\n"));
});

test("the host argument is a domain", async () => {
  for (const bad of ["alice@example.com", "example.com/x", "", "exa mple.com"]) {
    const r = await camctl(["host", "clients", bad], source());
    assert.equal(r.code, 2, bad);
    assert.equal(r.out, "");
  }
});

test("user clients -o ndjson: one record per line", async () => {
  const clients = ROWS.map(({ account: _a, ...c }) => c);
  const r = await camctl(["user", "clients", "alice@example.com", "-o", "ndjson"], source({ list: { jid: "alice@example.com", transport: "socket", clients } }));
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(ndjson(r.out), clients);
  assert.equal(r.out.split("\n").length, clients.length + 1);
});

test("--help says how <when> counts as the README and man page do: back from now for last seen, ahead of now for --expires-before", async () => {
  const src = { list: async () => assert.fail("not used") } as unknown as ClientSource;
  const r = await camctl(["host", "clients", "--help"], src);
  assert.equal(r.code, 0, r.err);
  const help = r.out.replace(/\s+/g, " ");
  assert.match(help, /A duration counts back from now for the last-seen filters and ahead of now for --expires-before \(--expires-before 14d: expires within two weeks\)\./);
  assert.doesNotMatch(help, /<when> is a duration back from now/, "never the contradiction");
  const fs = await import("node:fs");
  for (const doc of ["docs/host-audit.md", "man/camctl.1"]) {
    const text = fs.readFileSync(new URL(`../../../${doc}`, import.meta.url), "utf8").replace(/\\-/g, "-").replace(/\n\.[A-Z]+ /g, " ").replace(/[*"`]/g, "").replace(/\s+/g, " ");
    assert.match(text, /A duration counts back from now for the last-seen filters and ahead of now for --expires-before/, doc);
  }
});
