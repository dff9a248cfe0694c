// Plan files: written exclusively (0600, never over a file or through a symlink), read back item by
// item whatever their layout, refused when cut short or not a plan; and --keep-newest.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { CamError, exitCodeFor } from "../../src/core/errors.js";
import type { HostClientRecord } from "../../src/core/filters.js";
import { NO_FILTER, recordFilters } from "../../src/core/filters.js";
import { PlanReader, PlanWriter, keepNewest, planItem, scanPlanText, PLAN_FORMAT, PLAN_VERSION, type PlanHeader, type PlanItem } from "../../src/engines/plan.js";
import { iso } from "../helpers/iso.js";

const HEADER: PlanHeader = {
  format: PLAN_FORMAT,
  version: PLAN_VERSION,
  host: "example.com",
  transport: "socket",
  createdAt: "2026-11-27T12:00:00Z",
  filters: recordFilters({ ...NO_FILTER, software: { name: "Evil Client", version: null, exact: true }, lastSeenBefore: 1790000000 }, false),
  keepNewest: null,
};

function rec(account: string, id: string, lastSeen: string | null = "2026-11-01T00:00:00Z", software = "Evil \u202e Client \"x\"\n"): HostClientRecord {
  return {
    account, id, type: id.startsWith("grant/") ? "access" : "session", connected: false,
    firstSeen: iso("2026-10-01T00:00:00Z"), lastSeen: iso(lastSeen), expires: null, auth: ["password"],
    userAgent: { software, version: null, softwareId: null, uri: null, device: "phone" }, permission: null,
  };
}

const made: string[] = [];
const tmp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "camctl-plan-test-"));
  made.push(dir);
  return dir;
};
after(() => {
  for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
});

async function writePlan(file: string, items: PlanItem[], header = HEADER): Promise<void> {
  const w = await PlanWriter.create(file);
  await w.begin(header);
  for (const i of items) await w.add(i);
  await w.finish();
  await w.close(true);
}

async function readAll(file: string): Promise<{ header: Awaited<ReturnType<PlanReader["check"]>>; checked: PlanItem[]; items: PlanItem[] }> {
  const r = await PlanReader.open(file);
  try {
    const checked: PlanItem[] = [];
    const header = await r.check((i) => checked.push(i));
    const items: PlanItem[] = [];
    for await (const i of r.items()) items.push(i);
    return { header, checked, items };
  } finally {
    await r.close();
  }
}

const usage = (re: RegExp) => (e: unknown) => e instanceof CamError && exitCodeFor(e) === 2 && re.test(e.message);

test("a plan round-trips: header, items in order, entries exactly as listed, mode 0600", async () => {
  const dir = tmp();
  const file = path.join(dir, "plan.json");
  const items = [rec("a@example.com", "client/x/y z"), rec("a@example.com", "grant/g1"), rec("b@example.com", "client/\u0000odd")].map(planItem);
  const old = process.umask(0);
  try {
    await writePlan(file, items);
  } finally {
    process.umask(old);
  }
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  const text = fs.readFileSync(file, "utf8");
  assert.doesNotMatch(text, /[\u202e\u0000]/, "no raw control or bidi character in the file");
  assert.equal(text.split("\n").filter((l) => l.startsWith('    {"account"')).length, 3, "one item per line");
  const { header, checked, items: read } = await readAll(file);
  assert.equal(header.count, 3);
  assert.equal(header.host, "example.com");
  assert.equal(header.filters.software, "Evil Client");
  assert.equal(header.filters.lastSeenBefore, "2026-09-21T14:13:20Z");
  assert.deepEqual(read, items);
  assert.deepEqual(checked, items);
});

test("an empty plan is a plan", async () => {
  const file = path.join(tmp(), "empty.json");
  await writePlan(file, []);
  const { header, items } = await readAll(file);
  assert.equal(header.count, 0);
  assert.deepEqual(items, []);
});

test("the layout does not matter: reformatted (other key order, other indentation) it reads the same", async () => {
  const dir = tmp();
  const file = path.join(dir, "plan.json");
  const items = [rec("a@example.com", "client/1"), rec("b@example.com", "grant/2")].map(planItem);
  await writePlan(file, items);
  const doc = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  const sorted = Object.fromEntries(Object.entries(doc).sort(([a], [b]) => (a < b ? -1 : 1)));
  for (const [name, text] of [["sorted", JSON.stringify(sorted, null, 3)], ["compact", JSON.stringify(doc)], ["items last", JSON.stringify({ ...doc, items: undefined, count: doc.count }).replace(/}$/, `,"items":${JSON.stringify(doc.items)}}`)]] as const) {
    const other = path.join(dir, `${name}.json`);
    fs.writeFileSync(other, text);
    const { items: read } = await readAll(other);
    assert.deepEqual(read, items, name);
  }
});

test("an entry's times are read once into the form camctl lists them in", async () => {
  const dir = tmp();
  const file = path.join(dir, "plan.json");
  const items = [rec("a@example.com", "client/1")].map(planItem);
  await writePlan(file, items);
  const edited = path.join(dir, "edited.json");
  fs.writeFileSync(edited, fs.readFileSync(file, "utf8").replace('"firstSeen":"2026-10-01T00:00:00Z"', '"firstSeen":"2026-10-01T02:00:00.5+02:00"'));
  const { items: read } = await readAll(edited);
  assert.deepEqual(read, items);
});

test("the scanner hands over values across chunk boundaries, one character at a time", async () => {
  const text = JSON.stringify({ format: "x", items: [{ a: "}]\\\"{[" }, { b: [1, 2, { c: null }] }], count: 2, t: true, n: -1.5 });
  async function* oneByOne() {
    for (const ch of text) yield ch;
  }
  const out: unknown[] = [];
  for await (const s of scanPlanText(oneByOne(), "x")) out.push(s);
  assert.deepEqual(out, [
    { key: "format", value: "x" },
    { item: { a: '}]\\"{[' } },
    { item: { b: [1, 2, { c: null }] } },
    { key: "count", value: 2 },
    { key: "t", value: true },
    { key: "n", value: -1.5 },
  ]);
});

test("refused: cut short, wrong count, not a plan, newer version, foreign accounts, malformed items", async () => {
  const dir = tmp();
  const file = path.join(dir, "plan.json");
  await writePlan(file, [rec("a@example.com", "client/1"), rec("a@example.com", "client/2")].map(planItem));
  const full = fs.readFileSync(file, "utf8");
  const variant = async (name: string, text: string, re: RegExp) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, text);
    await assert.rejects(readAll(f), usage(re), name);
  };
  await variant("cut.json", full.slice(0, full.indexOf('"count"') - 5), /ends in the middle|malformed/);
  await variant("cut2.json", full.slice(0, full.length - 20), /ends in the middle/);
  await variant("count.json", full.replace('"count": 2', '"count": 3'), /says it has 3 items but holds 2/);
  await variant("nocount.json", full.replace(/,\s*"count": 2/, ""), /no "count"/);
  await variant("format.json", full.replace(PLAN_FORMAT, "something-else"), /not a plan camctl can apply/);
  await variant("newer.json", full.replace('"version": 1', '"version": 7'), /version 7, made by a newer camctl/);
  await variant("foreign.json", full.replace('"account":"a@example.com"', '"account":"a@elsewhere.org"'), /accounts on elsewhere\.org/);
  await variant("entry.json", full.replace('"type":"session"', '"type":"weird"'), /not a client as camctl lists it/);
  await variant("ids.json", full.replace('"id":"client/1","entry"', '"id":"client/9","entry"'), /not a client as camctl lists it/);
  for (const [name, time] of [["time-text", "soon\u001b[2J"], ["time-number", "1"], ["time-nozone", "2026-10-01T00:00:00"], ["time-type", 1790000000]] as const) {
    await variant(`${name}.json`, full.replace('"firstSeen":"2026-10-01T00:00:00Z"', `"firstSeen":${JSON.stringify(time)}`), /not a client as camctl lists it/);
  }
  await variant("trailing.json", full + "{}", /more after the plan/);
  await variant("array.json", "[1,2]", /expected a JSON object/);
  await variant("huge.json", `{"format": "${"x".repeat(2 * 1024 * 1024)}"}`, /larger than camctl reads/);
  await assert.rejects(PlanReader.open(path.join(dir, "missing.json")), usage(/does not exist/));
  await assert.rejects(PlanReader.open(dir), usage(/not a regular file/));
});

test("writing never replaces a file and never follows a symlink", async () => {
  const dir = tmp();
  const existing = path.join(dir, "existing.json");
  fs.writeFileSync(existing, "keep me");
  await assert.rejects(PlanWriter.create(existing), usage(/already exists/));
  assert.equal(fs.readFileSync(existing, "utf8"), "keep me");
  const target = path.join(dir, "target");
  const link = path.join(dir, "link.json");
  fs.symlinkSync(target, link); // dangling: O_CREAT would create the target through it
  await assert.rejects(PlanWriter.create(link), usage(/already exists/));
  assert.equal(fs.existsSync(target), false, "nothing was created through the symlink");
  await assert.rejects(PlanWriter.create(path.join(dir, "no", "such", "dir.json")), usage(/directory does not exist/));
});

test("an unfinished plan is removed; a spool file leaves nothing behind and reads back", async () => {
  const dir = tmp();
  const file = path.join(dir, "partial.json");
  const w = await PlanWriter.create(file);
  await w.begin(HEADER);
  await w.add(planItem(rec("a@example.com", "client/1")));
  await w.close(false);
  assert.equal(fs.existsSync(file), false);

  const before = fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith("camctl-plan-"));
  const spool = await PlanWriter.spool();
  assert.deepEqual(fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith("camctl-plan-")), before, "the spool file has no name");
  await spool.begin(HEADER);
  const items = Array.from({ length: 500 }, (_, i) => planItem(rec(`u${i}@example.com`, `client/${i}`)));
  for (const i of items) await spool.add(i);
  await spool.finish();
  const r = spool.reader();
  assert.equal((await r.check()).count, 500);
  const read: PlanItem[] = [];
  for await (const i of r.items()) read.push(i);
  assert.deepEqual(read, items);
  await spool.close(true);
});

test("--keep-newest keeps the n most recently seen of each account, never-seen counting as oldest", async () => {
  const records = [
    rec("a@x", "client/old", "2026-01-01T00:00:00Z"),
    rec("a@x", "client/never", null),
    rec("a@x", "client/new", "2026-11-01T00:00:00Z"),
    rec("a@x", "client/mid", "2026-06-01T00:00:00Z"),
    rec("b@x", "client/only", "2026-01-01T00:00:00Z"),
    rec("c@x", "client/tie1", "2026-05-05T00:00:00Z"),
    rec("c@x", "client/tie2", "2026-05-05T00:00:00Z"),
  ];
  async function* from(list: HostClientRecord[]) {
    yield* list;
  }
  const ids = async (n: number) => {
    const out: string[] = [];
    for await (const r of keepNewest(from(records), n)) out.push(r.id);
    return out;
  };
  assert.deepEqual(await ids(1), ["client/old", "client/never", "client/mid", "client/tie1"], "in the server's order; the later of a tie is kept");
  assert.deepEqual(await ids(2), ["client/old", "client/never"]);
  assert.deepEqual(await ids(10), []);
  const split = [records[0]!, records[4]!, records[1]!];
  await assert.rejects(
    (async () => {
      for await (const _ of keepNewest(from(split), 1)) void _;
    })(),
    (e: unknown) => e instanceof CamError && /in two places/.test(e.message),
  );
});

test("a plan file is read once: what check() read is what items() gives, whatever happens to the file afterwards", async () => {
  const dir = tmp();
  const file = path.join(dir, "plan.json");
  const reviewed = Array.from({ length: 400 }, (_, i) => planItem(rec(`a${i}@example.com`, `client/${i}`)));
  await writePlan(file, reviewed);
  const other = path.join(dir, "other.json");
  const others = Array.from({ length: 400 }, (_, i) => planItem(rec(`victim${i}@example.com`, `grant/${i}`)));
  await writePlan(other, others);

  for (const change of ["rewritten in place", "truncated"] as const) {
    const r = await PlanReader.open(file);
    try {
      const checked: PlanItem[] = [];
      assert.equal((await r.check((i) => checked.push(i))).count, 400);
      // Same inode, other content: what an editor or an attacker with write access would do.
      if (change === "rewritten in place") fs.writeFileSync(file, fs.readFileSync(other));
      else fs.truncateSync(file, 70_000);
      const items: PlanItem[] = [];
      for await (const i of r.items()) items.push(i);
      assert.deepEqual(items, reviewed, change);
      assert.deepEqual(checked, reviewed, change);
    } finally {
      await r.close();
    }
    await fs.promises.rm(file);
    await writePlan(file, reviewed);
  }
});

test("a plan file is read only when it is the user's own regular file that nobody else may change", async () => {
  const dir = tmp();
  const file = path.join(dir, "plan.json");
  await writePlan(file, [rec("a@example.com", "client/1")].map(planItem));
  assert.equal((await readAll(file)).items.length, 1, "0600 and ours: read");

  const link = path.join(dir, "link.json");
  fs.symlinkSync(file, link);
  await assert.rejects(PlanReader.open(link), usage(/^Cannot read the plan .*link\.json: it is a symbolic link; give the plan file itself\.$/));

  for (const mode of [0o620, 0o602, 0o666]) {
    fs.chmodSync(file, mode);
    await assert.rejects(PlanReader.open(file), usage(new RegExp(`other users may change it \\(mode ${mode.toString(8)}\\); make it yours alone with chmod 600\\.$`)), mode.toString(8));
  }
  fs.chmodSync(file, 0o644);
  assert.equal((await readAll(file)).items.length, 1, "others may read it: it is no secret from them, and cannot be changed by them");

  // Another user's file (root too reads only its own plans: see README, "host apply").
  const uid = process.getuid!();
  if (uid === 0) fs.chownSync(file, 65534, 65534);
  const foreign = uid === 0 ? file : "/etc/passwd";
  await assert.rejects(PlanReader.open(foreign), usage(/: it belongs to another user \(uid \d+\); camctl applies only plans of your own: review it and copy it\.$/));
  const fifo = path.join(dir, "fifo");
  (await import("node:child_process")).execFileSync("mkfifo", [fifo]);
  await assert.rejects(PlanReader.open(fifo), usage(/not a regular file/));
});

test("the header is checked like the items: filters, creation time, keepNewest, host (exit 2, naming the field)", async () => {
  const dir = tmp();
  const file = path.join(dir, "plan.json");
  await writePlan(file, [rec("a@example.com", "client/1")].map(planItem));
  const full = fs.readFileSync(file, "utf8");
  const doc = JSON.parse(full) as Record<string, unknown> & { filters: Record<string, unknown> };
  const now = new Date("2026-11-27T13:00:00Z");
  const check = async (name: string, edited: Record<string, unknown>) => {
    const f = path.join(dir, `${name}.json`);
    fs.writeFileSync(f, JSON.stringify(edited, null, 2), { mode: 0o600 });
    const r = await PlanReader.open(f);
    try {
      return await r.check(undefined, now);
    } finally {
      await r.close();
    }
  };
  const refused = async (name: string, edited: Record<string, unknown>, re: RegExp) => {
    await assert.rejects(check(name, edited), (e: unknown) => usage(re)(e) && usage(/^\S+ is not a plan camctl can apply \(.*\)\. Make one with/)(e), name);
  };
  await refused("auth-number", { ...doc, filters: { ...doc.filters, auth: 5 } }, /its "filters\.auth" is not a list of authentication method names/);
  await refused("filters-list", { ...doc, filters: [] }, /its "filters" is not an object/);
  await refused("filters-null", { ...doc, filters: null }, /its "filters" is not an object/);
  await refused("software-number", { ...doc, filters: { ...doc.filters, software: 7 } }, /its "filters\.software" is not null or a software name/);
  await refused("type", { ...doc, filters: { ...doc.filters, type: "weird" } }, /its "filters\.type"/);
  await refused("time", { ...doc, filters: { ...doc.filters, lastSeenBefore: "yesterday" } }, /its "filters\.lastSeenBefore" is not null or an ISO 8601 UTC time/);
  const { all: _all, ...noAll } = doc.filters;
  await refused("missing", { ...doc, filters: noAll }, /its "filters\.all" is not true or false/);
  await refused("keep-newest", { ...doc, keepNewest: 0 }, /its "keepNewest" is not null or a whole number of at least 1/);
  await refused("host", { ...doc, host: "not a host" }, /its "host" is not a host name/);
  for (const createdAt of ["1", "2026-11-27", "2026-11-27T12:00:00", "2026-11-27T12:00:00+01:00", "2026-02-30T12:00:00Z", 1790000000]) {
    await refused(`created-${String(createdAt)}`, { ...doc, createdAt }, /its "createdAt" is not an ISO 8601 UTC time as camctl writes it, such as 2026-11-27T12:00:00Z/);
  }
  await refused("future", { ...doc, createdAt: "2026-11-27T13:06:00Z" }, /its "createdAt" \(2026-11-27T13:06:00Z\) is in the future/);
  // A clock a few minutes apart from the plan's machine, and camctl's own form, are fine.
  assert.equal((await check("skew", { ...doc, createdAt: "2026-11-27T13:04:00Z" })).createdAt, "2026-11-27T13:04:00Z");
  assert.equal((await check("millis", { ...doc, createdAt: "2026-11-27T12:00:00.250Z" })).count, 1);
  assert.deepEqual((await check("as-written", doc)).filters, HEADER.filters);
});
