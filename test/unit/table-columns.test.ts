// The client table's column choice (--columns, --wide, the filters' columns kept on a narrow
// terminal) and short ids (render/short-id.ts), and their resolution by revoke-client (core/id-prefix.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { ClientTable, type TableOptions } from "../../src/render/table.js";
import { IdShortener, SHORT_ID_MARK, SHORT_ID_MIN } from "../../src/render/short-id.js";
import { entriesById, MIN_PREFIX, unmarkedPrefixHint } from "../../src/core/id-prefix.js";
import { parseTableChoice } from "../../src/config/options.js";
import { COLUMN_NAMES } from "../../src/core/columns.js";
import { filteredColumns, NO_FILTER, parseFilter } from "../../src/core/filters.js";
import { CamError } from "../../src/core/errors.js";
import type { ClientRecord } from "../../src/core/model.js";
import { displayWidth } from "../../src/render/width.js";
import { NOW, client } from "../helpers/render-fixtures.js";

const uuid = (n: number) => `${n.toString(16).padStart(8, "0")}-4f2a-4b3c-9d8e-0123456789ab`;
const rows = (n: number): (ClientRecord & { account: string })[] =>
  Array.from({ length: n }, (_, i) => ({
    ...client({ id: `client/${uuid(i * 7919)}`, userAgent: { software: "Nextcloud Talk", version: "17.1.2", softwareId: null, uri: null, device: "Pixel 8 Pro" }, auth: ["password", "fast"] }),
    account: `user.number${i}@chat.example.com`,
  }));

function render(list: readonly (ClientRecord & { account?: string })[], o: Partial<TableOptions>): string[] {
  const table = new ClientTable({ color: false, tty: true, width: 80, now: NOW, account: true, shortIds: true, ...o }, "none");
  let out = "";
  for (const r of list) out += table.push(r);
  out += table.end();
  return out.replace(/\n$/, "").split("\n");
}

test("short ids: each is the shortest prefix no other planned id shares, at least SHORT_ID_MIN after the kind", () => {
  const ids = ["client/abcdefghij-1", "client/abcdefghij-2", "client/zzzzzzzzzzzzzzzz", "grant/HjEEr45_LQr", "client/short", "client/same-id-twice-xx", "client/same-id-twice-xx"];
  const shown = new IdShortener().planned(ids);
  assert.deepEqual(shown, [
    "client/abcdefghij-1", // the prefix would be the whole id
    "client/abcdefghij-2",
    `client/zzzzzzz${SHORT_ID_MARK}`,
    `grant/HjEEr45${SHORT_ID_MARK}`,
    "client/short",
    "client/same-id-twice-xx", // two rows with one id: no prefix tells them apart
    "client/same-id-twice-xx",
  ]);
});

test("property: a shortened id is a prefix of its own id and of no other planned id", () => {
  const id = fc.tuple(fc.constantFrom("client/", "grant/"), fc.stringMatching(/^[ab0-9-]{0,24}$/)).map(([k, s]) => k + s);
  fc.assert(
    fc.property(fc.uniqueArray(id, { minLength: 1, maxLength: 40 }), (ids) => {
      const shown = new IdShortener().planned(ids);
      shown.forEach((s, i) => {
        if (s === ids[i]) return;
        assert.ok(s.endsWith(SHORT_ID_MARK));
        const prefix = s.slice(0, -SHORT_ID_MARK.length);
        assert.ok(ids[i]!.startsWith(prefix));
        assert.ok(prefix.length >= (ids[i]!.startsWith("grant/") ? 6 : 7) + SHORT_ID_MIN);
        assert.deepEqual(ids.filter((x) => x.startsWith(prefix)), [ids[i]], `${prefix} is unique`);
      });
    }),
  );
});

test("short ids: a later row whose prefix an earlier id has is shown whole", () => {
  const s = new IdShortener();
  s.planned(["client/0123456789abcdef", "client/fedcba9876543210"]);
  assert.equal(s.next("client/aaaaaaaaaaaaaaaa"), `client/aaaaaaa${SHORT_ID_MARK}`);
  assert.equal(s.next("client/0123456789zzzz"), "client/0123456789zzzz", "shares 'client/0123456' with a planned id");
});

test("80 columns: long ids are shortened, the columns of the filters given stay", () => {
  const list = rows(30);
  const plain = render(list, {});
  assert.ok(plain.slice(1).every((l) => l.includes(SHORT_ID_MARK)), "ids are shortened");
  assert.ok(!plain.some((l) => l.includes(list[0]!.id)), "no id is whole");
  for (const line of plain) assert.ok(displayWidth(line) <= 80, line);

  // Without a filter Last seen and Expires go at 80 columns; with one they stay.
  assert.doesNotMatch(plain[0]!, /Last seen/);
  const kept = render(list, { keep: filteredColumns(parseFilter({ lastSeenBefore: "30d" }, NOW)) });
  assert.match(kept[0]!, /^Account +ID +.*Last seen/);
  for (const line of kept) assert.ok(displayWidth(line) <= 80, line);
  const expires = render(list, { keep: filteredColumns(parseFilter({ expiresBefore: "14d" }, NOW)) });
  assert.match(expires[0]!, /Expires/);
});

test("ids stay whole when the table fits, with --wide, and off a terminal", () => {
  const list = rows(3);
  assert.ok(render(list, { width: 300 }).some((l) => l.includes(list[0]!.id)), "wide terminal");
  const wide = render(list, { wide: true });
  assert.ok(list.every((c) => wide.some((l) => l.includes(c.id))), "--wide");
  assert.match(wide[0]!, /Type .*First seen .*Last seen .*Expires .*Auth/, "--wide: every column");
  assert.ok(render(list, { tty: false, width: undefined }).some((l) => l.includes(list[0]!.id)), "off a terminal");
});

test("--columns: those columns, in that order, none dropped", () => {
  const out = render(rows(5), { columns: ["last-seen", "id", "software"] });
  assert.match(out[0]!, /^Last seen +ID +Software$/);
  const narrow = render(rows(5), { width: 40, columns: ["account", "id", "device", "auth"] });
  assert.match(narrow[0]!, /^Account +ID +Device +Auth$/);
});

test("--columns is checked: an unknown name is one usage sentence naming the columns; only with a table", () => {
  const valid = COLUMN_NAMES.filter((n) => n !== "account");
  assert.deepEqual(parseTableChoice({ columns: "ID, last-seen,id" }, "table", valid), { columns: ["id", "last-seen"], wide: false });
  assert.deepEqual(parseTableChoice({ wide: true }, "json", valid), { wide: true }, "--wide is harmless with JSON");
  const refused = (raw: Record<string, unknown>, output: "table" | "json", sentence: RegExp) =>
    assert.throws(() => parseTableChoice(raw, output, valid), (e: unknown) => e instanceof CamError && e.kind === "usage" && sentence.test(e.message));
  refused({ columns: "id,lastseen" }, "table", /^--columns has no column "lastseen"; the columns are context, id, type, .*last-seen.*\.$/);
  refused({ columns: "account" }, "table", /no column "account"/);
  refused({ columns: "," }, "table", /needs at least one column/);
  refused({ columns: "id" }, "json", /-o json writes every field/);
});

test("each filter keeps its own column", () => {
  assert.deepEqual(filteredColumns(NO_FILTER), []);
  const f = parseFilter({ software: "x*", lastSeenAfter: "1d", auth: ["fast"], type: "access", connected: true, account: "a*", expiry: false }, NOW);
  assert.deepEqual(filteredColumns(f).sort(), ["account", "auth", "connected", "expires", "last-seen", "software", "type"]);
});

const listed = [
  client({ id: "client/0f1e2d3c-aaaa-bbbb" }),
  client({ id: "client/0f1e2d3c-aaaa-cccc" }),
  client({ id: "client/77777777-dddd" }),
  client({ id: "grant/77777777xyz" }),
  client({ id: "client/exact" }),
  client({ id: "client/exact-and-longer" }),
];
const ids = (typed: string) => entriesById(listed, typed, typed.slice(0, typed.indexOf("/")), "alice@example.com").map((c) => c.id);

test("revoke-client by a short id: an exact id wins, else a unique prefix ending in the mark", () => {
  assert.deepEqual(ids("client/exact"), ["client/exact"], "exact, although it also starts another id");
  assert.throws(() => ids(`client/exact${SHORT_ID_MARK}`), /the start of 2 ids/, "with the mark it is a prefix, of both");
  assert.deepEqual(ids(`client/7777777${SHORT_ID_MARK}`), ["client/77777777-dddd"]);
  assert.deepEqual(ids("client/7777777..."), ["client/77777777-dddd"]);
  assert.deepEqual(ids("client/7777777"), [], "without the mark a text is an exact id, never a prefix");
  assert.deepEqual(ids("client/exact-and"), [], "a gone client/exact-and must not become client/exact-and-longer");
  assert.deepEqual(ids("grant/7777..."), ["grant/77777777xyz"], "a grant/ prefix never names a client");
  assert.deepEqual(ids(`client/${"7".repeat(MIN_PREFIX - 1)}${SHORT_ID_MARK}`), [], "too short to be a prefix");
  assert.deepEqual(ids("client/nothing-like-it"), []);
});

test("a short id copied without its mark: the no-match error says how to use it", () => {
  assert.equal(unmarkedPrefixHint(listed, "client/7777777"), `It is the start of one listed id: to use it as a short id, end it with "…" or "..." ('client/7777777...').`);
  assert.match(unmarkedPrefixHint(listed, "client/0f1e")!, /the start of 2 listed ids/);
  assert.equal(unmarkedPrefixHint(listed, "client/none"), undefined);
  assert.equal(unmarkedPrefixHint(listed, `client/none${SHORT_ID_MARK}`), undefined);
});

test("revoke-client refuses a prefix that fits several ids, naming them", () => {
  assert.throws(
    () => ids(`client/0f1e2d3c${SHORT_ID_MARK}`),
    (e: unknown) =>
      e instanceof CamError && e.kind === "usage" &&
      e.message.includes("client/0f1e2d3c-aaaa-bbbb, client/0f1e2d3c-aaaa-cccc") && /is the start of 2 ids of alice@example\.com/.test(e.message) && !e.message.includes("\n"),
  );
});
