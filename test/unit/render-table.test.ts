import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { renderClientsTable, type TableOptions } from "../../src/render/table.js";
import { displaySafe } from "../../src/text/untrusted.js";
import { displayWidth, truncateToWidth } from "../../src/render/width.js";
import type { ClientList } from "../../src/core/model.js";
import { HOSTILE, NOW, SAMPLE, anyClientList, client, unsafeChar } from "../helpers/render-fixtures.js";

const SGR = /\x1b\[[0-9;]*m/g;
const plain = (s: string) => s.replace(SGR, "");
const lines = (out: string) => out.replace(/\n$/, "").split("\n");
/** Terminal columns a rendered line takes. */
const lineWidth = (line: string) => displayWidth(plain(line));

const tty = (width: number | undefined, color = false): TableOptions => ({ color, width, tty: true, now: NOW });
const pipe: TableOptions = { color: false, tty: false, now: NOW };

/** Output must hold no unsafe character except the table's own line ends (and SGR colour when on). */
function assertSafe(out: string): void {
  const withoutLineEnds = plain(out).replace(/\n/g, "");
  const bad = unsafeChar().exec(withoutLineEnds);
  assert.equal(bad, null, `raw ${JSON.stringify(bad?.[0])} in ${JSON.stringify(out)}`);
}

function hostileList(): ClientList {
  return {
    jid: "alice@example.com",
    transport: "socket",
    clients: HOSTILE.map((s, i) =>
      client({
        id: `client/h${i}${s}`,
        connected: i % 2 === 0,
        auth: [s, "password"],
        userAgent: { software: s, version: s, softwareId: s, uri: s, device: s },
        permission: s,
      }),
    ),
  };
}

test("table on a terminal: header, one line per client, relative times, full ids", () => {
  const out = renderClientsTable(SAMPLE, tty(200));
  const rows = lines(out);
  assert.equal(rows.length, 1 + SAMPLE.clients.length);
  assert.match(rows[0]!, /^ID +Type +Connected +Software +Device +First seen +Last seen +Expires +Auth$/);
  assert.match(rows[1]!, /^client\/zeiP41HLglIu +session +● yes +Gajim 1\.8\.4 +laptop +12 days ago \(2026-11-15\) +2 min ago \(14:37\) +- +fast, password$/);
  assert.match(rows[2]!, /^grant\/HjEEr45_LQr +access +no +Movim +- +5 h ago \(09:12\) +- +in 2 days \(Nov 30 10:00\) +oauth2$/);
  for (const row of rows) assert.ok(lineWidth(row) <= 200);
});

test("table off a terminal: all columns, ISO times, yes/no; colour only when forced", () => {
  const forced = renderClientsTable(SAMPLE, { ...pipe, color: true });
  assert.ok(forced.includes("\x1b["), "FORCE_COLOR colours a piped table");
  assert.equal(plain(forced), renderClientsTable(SAMPLE, { ...pipe, color: false }), "same table, only coloured");
  const out = renderClientsTable(SAMPLE, { ...pipe, color: false });
  assert.ok(!out.includes("\x1b"));
  const rows = lines(out);
  assert.equal(rows.length, 4);
  assert.match(rows[0]!, /^ID +Type +Connected +Software +Device +First seen +Last seen +Expires +Auth$/);
  assert.match(rows[1]!, /^client\/zeiP41HLglIu +session +yes +Gajim 1\.8\.4 +laptop +2026-11-15T08:00:00Z +2026-11-27T14:37:25Z +- +fast, password$/);
});

test("colour off means no ESC at all; colour on means only SGR sequences", () => {
  const off = renderClientsTable(hostileList(), tty(120, false));
  assert.ok(!off.includes("\x1b"));
  const on = renderClientsTable(hostileList(), tty(120, true));
  assert.ok(on.includes("\x1b[")); // it is coloured...
  assert.ok(!plain(on).includes("\x1b")); // ...with nothing but colour
});

test("hostile strings never reach the table raw", () => {
  const list = hostileList();
  for (const o of [tty(undefined), tty(300, true), tty(80, true), tty(40), pipe]) {
    const out = renderClientsTable(list, o);
    assertSafe(out);
    assert.ok(!out.includes("\x1b]") && !out.includes("\u009b") && !out.includes("\u202e") && !out.includes("\r"));
    assert.equal(lines(out).length, 1 + list.clients.length);
  }
});

test("a newline in the software name never adds a row", () => {
  const list: ClientList = {
    ...SAMPLE,
    clients: [client({ id: "client/a", userAgent: { software: "Gajim\nclient/fake  yes  Evil", version: "1\r\n2", softwareId: null, uri: null, device: "x\u2028y" } })],
  };
  for (const o of [tty(200), tty(60), pipe]) {
    const rows = lines(renderClientsTable(list, o));
    assert.equal(rows.length, 2);
    assert.ok(!rows.some((r) => r.startsWith("client/fake")));
  }
  assert.match(renderClientsTable(list, pipe), /Gajim\\nclient\/fake {2}yes {2}Evil 1\\r\\n2/);
});

test("ids are never truncated, at any width, even 60 characters long", () => {
  const longId = "client/" + "x".repeat(53);
  const list: ClientList = { ...SAMPLE, clients: [...SAMPLE.clients, client({ id: longId, userAgent: { software: "A very long software name ".repeat(4), version: "9.9", softwareId: null, uri: null, device: "A device with a long name".repeat(3) } })] };
  for (const width of [20, 40, 60, 80, 200]) {
    const rows = lines(renderClientsTable(list, tty(width, true)));
    list.clients.forEach((c, i) => assert.ok(plain(rows[i + 1]!).startsWith(c.id), `width ${width}: ${rows[i + 1]}`));
    if (width >= 60) for (const row of rows) assert.ok(lineWidth(row) <= width, `width ${width}: ${row}`);
  }
});

test("narrow terminals drop low-value columns first and cut long text with …", () => {
  const header = (width: number) => lines(renderClientsTable(SAMPLE, tty(width)))[0]!.split(/ {2,}/);
  assert.deepEqual(header(250), ["ID", "Type", "Connected", "Software", "Device", "First seen", "Last seen", "Expires", "Auth"]);
  assert.ok(!header(150).includes("Type"));
  assert.deepEqual(header(120), ["ID", "Connected", "Software", "Device", "Last seen", "Expires", "Auth"]);
  assert.deepEqual(header(80), ["ID", "Connected", "Software", "Last seen"]);
  assert.deepEqual(header(70), ["ID", "Connected", "Software"]);
  assert.deepEqual(header(60), ["ID", "Software"]);
  // The 41-column legacy id is wider than a 40-column terminal: it wraps on its own line and does
  // not take the other rows' columns away.
  assert.deepEqual(header(40), ["ID", "Software"]);
  assert.deepEqual(header(25), ["ID"]);
  const narrow = renderClientsTable(SAMPLE, tty(100));
  assert.match(narrow, /2 min ago(?! \()/); // times lose their date part before columns go
  const cut = renderClientsTable({ ...SAMPLE, clients: [client({ id: "client/a", userAgent: { software: "S".repeat(80), version: null, softwareId: null, uri: null, device: null } })] }, tty(60));
  assert.match(cut, /S+…/);
});

test("an empty list is one sentence", () => {
  const empty: ClientList = { jid: "alice@example.com", transport: "socket", clients: [] };
  assert.equal(renderClientsTable(empty, tty(80, true)), "No clients have access to alice@example.com.\n");
  assert.equal(renderClientsTable(empty, pipe), "No clients have access to alice@example.com.\n");
  assert.equal(renderClientsTable({ ...empty, jid: "x\x1b]0;t\x07" }, pipe), "No clients have access to x\\x1b]0;t\\x07.\n");
});

test("property: row count is clients + 1 header line and ids come whole, whatever the content", () => {
  const options = fc.record({
    color: fc.boolean(),
    tty: fc.boolean(),
    width: fc.option(fc.integer({ min: 10, max: 250 }), { nil: undefined }),
  });
  fc.assert(
    fc.property(anyClientList, options, (list, o) => {
      const out = renderClientsTable(list, { ...o, now: NOW });
      assertSafe(out);
      if (!o.color) assert.ok(!out.includes("\x1b"));
      const rows = lines(out);
      if (list.clients.length === 0) return rows.length === 1;
      assert.equal(rows.length, list.clients.length + 1);
      list.clients.forEach((c, i) => assert.ok(plain(rows[i + 1]!).startsWith(displaySafe(c.id))));
      // Fits whenever the widest id leaves room; otherwise only the id column is shown.
      const idWidth = Math.max(2, ...list.clients.map((c) => displayWidth(displaySafe(c.id))));
      if (o.tty && o.width !== undefined && idWidth <= o.width) {
        for (const row of rows) assert.ok(lineWidth(row) <= o.width, `${lineWidth(row)} > ${o.width}: ${row}`);
      }
      return true;
    }),
    { numRuns: 500 },
  );
});

test("display width: wide CJK and emoji take 2 columns, combining marks 0", () => {
  assert.equal(displayWidth("abc"), 3);
  assert.equal(displayWidth("漢字"), 4);
  assert.equal(displayWidth("😀"), 2);
  assert.equal(displayWidth("e\u0301"), 1);
  assert.equal(displayWidth("©●…"), 3);
  assert.equal(displayWidth("ｆｕｌｌ"), 8);
  assert.equal(truncateToWidth("漢字漢字", 5), "漢字…");
  assert.equal(truncateToWidth("😀😀😀", 4), "😀…"); // never half an emoji or a lone surrogate
  assert.equal(truncateToWidth("short", 5), "short");
});

test("columns stay aligned with wide characters, and lines carry no trailing blanks", () => {
  const list: ClientList = {
    ...SAMPLE,
    clients: [
      client({ id: "client/a", userAgent: { software: "微信", version: "8.0", softwareId: null, uri: null, device: "😀 phone" } }),
      client({ id: "client/bb", userAgent: { software: "Gajim", version: null, softwareId: null, uri: null, device: "laptop" } }),
    ],
  };
  const rows = lines(renderClientsTable(list, pipe));
  // The column after Device starts at the same terminal column on every line.
  const starts = rows.map((row, i) => displayWidth(row.slice(0, row.indexOf(i === 0 ? "First seen" : "2026-11-15"))));
  assert.deepEqual(new Set(starts).size, 1, JSON.stringify(rows));
  for (const row of rows) assert.ok(!row.endsWith(" "));
});

test("display width: VS16 makes a text character an emoji, 2 columns (☺️ ❤️ #️⃣), and a cut keeps the pair whole", () => {
  assert.equal(displayWidth("☺"), 1);
  assert.equal(displayWidth("☺\ufe0f"), 2);
  assert.equal(displayWidth("❤\ufe0f"), 2);
  assert.equal(displayWidth("#\ufe0f\u20e3"), 2);
  assert.equal(displayWidth("☺\ufe0e"), 1, "VS15 asks for the text form");
  assert.equal(displayWidth("a\ufe0f"), 1, "VS16 after a letter changes nothing");
  assert.equal(displayWidth("😀\ufe0f"), 2, "already an emoji");
  assert.equal(truncateToWidth("☺\ufe0f☺\ufe0f☺\ufe0f", 4), "☺\ufe0f…");
  assert.equal(truncateToWidth("☺\ufe0f☺\ufe0f", 4), "☺\ufe0f☺\ufe0f");
  assert.equal(truncateToWidth("ab☺\ufe0f", 3), "ab…", "never the character without its selector");
  assert.equal(truncateToWidth("x".repeat(10), 4), "xxx…");
  assert.equal(truncateToWidth("x".repeat(4), 4), "xxxx");
});

test("a table with VS16 emoji stays within the terminal and aligned", () => {
  const list: ClientList = {
    ...SAMPLE,
    clients: [
      client({ id: "client/a", userAgent: { software: "☺\ufe0f".repeat(30), version: null, softwareId: null, uri: null, device: "❤\ufe0f phone" } }),
      client({ id: "client/bb", userAgent: { software: "Gajim", version: null, softwareId: null, uri: null, device: "laptop" } }),
    ],
  };
  for (const width of [40, 60, 80]) for (const row of lines(renderClientsTable(list, tty(width)))) assert.ok(lineWidth(row) <= width, `${lineWidth(row)} > ${width}: ${row}`);
  const rows = lines(renderClientsTable(list, pipe));
  const starts = rows.map((row, i) => displayWidth(row.slice(0, row.indexOf(i === 0 ? "First seen" : "2026-11-15"))));
  assert.equal(new Set(starts).size, 1, JSON.stringify(rows));
});
