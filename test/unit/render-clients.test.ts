// writeClients: every format streams records as they come, writes exactly what the whole-list
// renderers write, keeps output proportional to its content whatever one value holds, and stops
// when the output fails.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { main } from "../../src/cli/program.js";
import { OutputFailed } from "../../src/term/iostreams.js";
import type { ClientList, ClientRecord } from "../../src/core/model.js";
import { writeClients, type ClientRow, type ClientsFormat } from "../../src/render/client-records.js";
import { renderClientsCsv } from "../../src/render/csv.js";
import { renderJson } from "../../src/render/json.js";
import { BUFFERED_ROWS, ClientTable, ID_PAD_CAP, renderClientsTable } from "../../src/render/table.js";
import { displayWidth } from "../../src/render/width.js";
import type { ClientSource } from "../../src/core/client-source.js";
import { parseCsv } from "../helpers/csv.js";
import { fakeIO } from "../helpers/fake-io.js";
import { HOSTILE, NOW, SAMPLE, anyClientList, client, unsafeChar } from "../helpers/render-fixtures.js";

const FORMATS: ClientsFormat[] = ["table", "json", "csv", "ndjson"];

async function* slowly<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) {
    await new Promise((r) => setImmediate(r));
    yield item;
  }
}

async function written(list: ClientList, format: ClientsFormat, o: { tty?: boolean; width?: number; account?: boolean } = {}): Promise<string> {
  const f = fakeIO({ stdoutIsTTY: o.tty ?? false, width: o.width, now: NOW });
  await writeClients(slowly(list.clients), format, f.io, { head: { jid: list.jid, transport: list.transport }, account: o.account ?? false });
  return f.out();
}

test("streamed JSON, CSV and table are exactly what the whole-list renderers write", async () => {
  for (const list of [SAMPLE, { ...SAMPLE, clients: [] }]) {
    assert.equal(await written(list, "json"), renderJson(list));
    assert.equal(await written(list, "csv"), renderClientsCsv(list));
    assert.equal(await written(list, "table"), renderClientsTable(list, { color: false, tty: false, now: NOW }));
    // Listings shorten ids when the table does not fit whole (render/short-id.ts).
    assert.equal(await written(list, "table", { tty: true, width: 90 }), renderClientsTable(list, { color: false, tty: true, width: 90, now: NOW, shortIds: true }));
  }
});

test("property: streamed JSON parses back to the list and matches renderJson byte for byte", async () => {
  await fc.assert(
    fc.asyncProperty(anyClientList, async (list) => {
      const out = await written(list, "json");
      assert.equal(out, renderJson(list));
      assert.deepEqual(JSON.parse(out), JSON.parse(JSON.stringify(list)));
    }),
    { numRuns: 150 },
  );
});

test("NDJSON: one record per line, nothing else, each parses back; no raw control character", async () => {
  const list: ClientList = { ...SAMPLE, clients: HOSTILE.map((s, i) => client({ id: `client/${i}${s}`, userAgent: { software: s, version: s, softwareId: s, uri: s, device: s } })) };
  const out = await written(list, "ndjson");
  assert.ok(out.endsWith("\n"));
  const lines = out.slice(0, -1).split("\n");
  assert.equal(lines.length, list.clients.length);
  lines.forEach((line, i) => assert.deepEqual(JSON.parse(line), list.clients[i]));
  assert.equal(unsafeChar().exec(out.replace(/\n/g, "")), null);
  assert.equal(await written({ ...SAMPLE, clients: [] }, "ndjson"), "", "an empty listing writes nothing");
});

test("host-wide records: an account column in table and CSV, an account field in JSON and NDJSON", async () => {
  const rows: ClientRow[] = [
    { account: "alice@example.com", ...SAMPLE.clients[0]! },
    { account: "bob@example.com", ...SAMPLE.clients[1]! },
  ];
  const f = fakeIO({ now: NOW });
  await writeClients(rows, "table", f.io, { head: { host: "example.com", transport: "socket" }, account: true });
  const lines = f.out().trimEnd().split("\n");
  assert.match(lines[0]!, /^Account +ID +Type/);
  assert.match(lines[2]!, /^bob@example\.com +grant\/HjEEr45_LQr +access/);

  const csv = fakeIO();
  await writeClients(rows, "csv", csv.io, { head: {}, account: true });
  const parsed = parseCsv(csv.out());
  assert.equal(parsed[0]![0], "account");
  assert.deepEqual(parsed.slice(1).map((r) => [r[0], r[1]]), [["alice@example.com", "client/zeiP41HLglIu"], ["bob@example.com", "grant/HjEEr45_LQr"]]);

  const json = fakeIO();
  await writeClients(rows, "json", json.io, { head: { host: "example.com", transport: "socket" }, account: true });
  assert.deepEqual(JSON.parse(json.out()), { host: "example.com", transport: "socket", clients: rows });

  const nd = fakeIO();
  await writeClients(slowly(rows), "ndjson", nd.io, { head: {}, account: true });
  assert.deepEqual(nd.out().trimEnd().split("\n").map((l) => JSON.parse(l).account), ["alice@example.com", "bob@example.com"]);

  const empty = fakeIO();
  await writeClients([], "table", empty.io, { head: { host: "example.com", transport: "socket" }, account: true, empty: "No client has access to any account on example.com." });
  assert.equal(empty.out(), "No client has access to any account on example.com.\n");
});

test("NDJSON goes out record by record, before the listing ends", async () => {
  const f = fakeIO();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  async function* records() {
    yield SAMPLE.clients[0]!;
    await gate;
    yield SAMPLE.clients[1]!;
  }
  const done = writeClients(records(), "ndjson", f.io, { head: {} });
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(f.out().split("\n").length, 2, "the first record is out while the second is awaited");
  release();
  await done;
  assert.equal(f.out().trimEnd().split("\n").length, 2);
});

test("the table plans its columns from the first rows, then writes each row as it comes", () => {
  const table = new ClientTable({ color: false, tty: false, now: NOW }, "none");
  let first = "";
  for (let i = 0; i < BUFFERED_ROWS - 1; i++) assert.equal(table.push(client({ id: `client/${i}` })), "", "still planning");
  first = table.push(client({ id: "client/last-planned" }));
  assert.equal(first.split("\n").length - 1, BUFFERED_ROWS + 1, "header and the planned rows at once");
  const later = table.push(client({ id: "client/later", userAgent: { software: "A later, longer name", version: null, softwareId: null, uri: null, device: null } }));
  assert.match(later, /^client\/later +session +no +A later, longer name  - /, "a later, wider value is whole (up to its cap) and shifts its row");
  assert.equal(later.split("\n").length - 1, 1);
  assert.equal(table.end(), "");
});

test("one long value cannot widen the table: non-id cells are capped with …, ids stay whole", () => {
  const huge = "D".repeat(200_000);
  const longId = "client/" + "i".repeat(500);
  const list: ClientList = {
    ...SAMPLE,
    clients: [...SAMPLE.clients, client({ id: longId, userAgent: { software: huge, version: null, softwareId: null, uri: null, device: huge } })],
  };
  for (const o of [{ color: false, tty: false, now: NOW }, { color: false, tty: true, width: 120, now: NOW }]) {
    const out = renderClientsTable(list, o);
    const lines = out.trimEnd().split("\n");
    assert.equal(lines.length, 1 + list.clients.length);
    assert.ok(out.length < 3_000, `${out.length} characters for ${list.clients.length} clients`);
    assert.ok(lines.some((l) => l.startsWith(longId + "  ")), "the long id is whole");
    assert.match(out, /D+…/, "the cut is marked");
    // The other rows are laid out as if the long id were not there.
    for (const l of [lines[0]!, ...lines.slice(1, -1)]) assert.ok(displayWidth(l) <= (o.tty ? 120 : 250), l);
  }
  const piped = renderClientsTable(list, { color: false, tty: false, now: NOW });
  assert.ok(piped.split("\n")[1]!.indexOf("session") <= ID_PAD_CAP + 2, "ids beyond the cap do not pad the id column");
});

// ---------------------------------------------------------------------------------------------
// Regression: one 200 KB device among 1,001 clients gave 201 MB of piped table, and 3,001
// clients ended in "Invalid string length".

function many(count: number, hugeAt: number): ClientRecord[] {
  const huge = "x".repeat(200_000);
  return Array.from({ length: count }, (_, i) =>
    client({ id: `client/bulk-${i}`, userAgent: { software: `Bench ${i}`, version: null, softwareId: null, uri: null, device: i === hugeAt ? huge : `device ${i}` } }),
  );
}

async function listWithCamctl(clients: ClientRecord[], args: string[]) {
  const f = fakeIO();
  const source: ClientSource = {
    list: async (jid) => ({ jid, transport: "socket", clients }),
    revoke: async () => {
      throw new Error("not used");
    },
    listHost: () => {
      throw new Error("not used");
    },
    close: async () => undefined,
  };
  const code = await main(["user", "clients", "alice@example.com", ...args], {
    io: f.io,
    prepareSource: async () => ({ where: "a fake source", open: async () => source }),
  });
  return { code, out: f.out(), err: f.err(), bytes: f.outBytes() };
}

test("1,001 clients with one 200 KB device: the table stays proportional, JSON and CSV keep the value", async () => {
  const clients = many(1001, 500);
  const table = await listWithCamctl(clients, []);
  assert.equal(table.code, 0, table.err);
  assert.equal(table.out.trimEnd().split("\n").length, 1002);
  assert.ok(table.bytes < 1001 * 200, `${table.bytes} bytes of table`);
  assert.ok(!table.out.includes("x".repeat(100)), "the device is capped in the table");
  for (const format of ["json", "csv"]) {
    const r = await listWithCamctl(clients, ["-o", format]);
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.includes("x".repeat(200_000)), `${format} keeps the full value`);
    // ~600 bytes a record, plus the eight network fields (core/network.ts), null here.
    assert.ok(r.bytes < 200_000 + 1001 * 850, `${r.bytes} bytes of ${format}`);
  }
});

test("3,001 clients with one 200 KB device: every format writes, none hits a string limit", async () => {
  const clients = many(3001, 1500);
  for (const args of [[], ["--json"], ["-o", "csv"]]) {
    const r = await listWithCamctl(clients, args);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
    assert.doesNotMatch(r.err, /Invalid string length/);
    assert.ok(r.bytes > 3001 * 20);
  }
});

// ---------------------------------------------------------------------------------------------
// Output that cannot be written

test("a failed write stops the listing with OutputFailed; nothing more is rendered", async () => {
  for (const format of FORMATS) {
    const f = fakeIO({ failWith: "ENOSPC", failAfterBytes: 100 });
    let pulled = 0;
    function* records() {
      for (const c of many(5000, -1)) {
        pulled++;
        yield c;
      }
    }
    await assert.rejects(writeClients(records(), format, f.io, { head: { jid: "a@b", transport: "socket" } }), (e: unknown) => e instanceof OutputFailed && e.cause.code === "ENOSPC");
    assert.ok(pulled < 5000, `${format}: stopped after ${pulled} records`);
  }
});

test("through main: a full disk is exit 10 with one sentence; a vanished reader (EPIPE) is a quiet 0", async () => {
  const source: ClientSource = {
    list: async (jid) => ({ jid, transport: "socket", clients: many(3000, -1) }),
    revoke: async () => {
      throw new Error("not used");
    },
    listHost: () => {
      throw new Error("not used");
    },
    close: async () => undefined,
  };
  for (const [failWith, code, stderr] of [
    ["ENOSPC", 10, /^camctl: Could not write the output: simulated failure \(ENOSPC\)\. It is missing or incomplete\.\n$/],
    ["EBADF", 10, /^camctl: Could not write the output: simulated failure \(EBADF\)\./],
    ["EPIPE", 0, /^$/],
  ] as const) {
    for (const args of [["--json"], ["-o", "csv"], []]) {
      const f = fakeIO({ failWith, failAfterBytes: 1000 });
      const r = await main(["user", "clients", "alice@example.com", ...args], { io: f.io, prepareSource: async () => ({ where: "a fake source", open: async () => source }) });
      assert.equal(r, code, `${failWith} ${args.join(" ")}: ${f.err()}`);
      assert.match(f.err(), stderr);
    }
  }
});

test("when every id is too long for the plan: ID alone on a terminal, the cap off a terminal", () => {
  const ids = ["client/" + "a".repeat(70), "client/" + "b".repeat(80), "client/" + "c".repeat(200_000)];
  const list: ClientList = { ...SAMPLE, clients: ids.map((id) => client({ id })) };
  const onTerminal = renderClientsTable(list, { color: false, tty: true, width: 60, now: NOW }).trimEnd().split("\n");
  assert.deepEqual(onTerminal, ["ID", ...ids], "ids whole, each on its own line, nothing else");
  const piped = renderClientsTable(list, { color: false, tty: false, now: NOW });
  assert.ok(piped.length < 200_000 + 3 * 400, `${piped.length} characters`);
  assert.equal(piped.split("\n")[0]!.indexOf("Type"), ID_PAD_CAP + 2, "the id column is as wide as the cap");
});
