// The fan-out runner with fake tasks: bounded parallelism, records tagged and merged as they
// arrive, one outcome per context, failures isolated, the overall code, back-pressure, cancel.
import { test } from "node:test";
import assert from "node:assert/strict";
import { outcomeLines, outcomesJson, runFanout, type ContextOutcome, type FanoutEvent } from "../../src/engines/fanout.js";
import { CamError, exitCodeOf, mostSevere, SEVERITY } from "../../src/core/errors.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function collect<R>(gen: AsyncGenerator<FanoutEvent<R>, ContextOutcome[]>): Promise<{ events: FanoutEvent<R>[]; outcomes: ContextOutcome[] }> {
  const events: FanoutEvent<R>[] = [];
  for (;;) {
    const r = await gen.next();
    if (r.done) return { events, outcomes: r.value };
    events.push(r.value);
  }
}

test("the overall outcome is success only when all succeeded, else the most severe kind", () => {
  assert.equal(mostSevere([]), null);
  assert.equal(mostSevere([null, null]), null);
  assert.equal(mostSevere([null, "notFound", "unreachable"]), "unreachable");
  assert.equal(mostSevere(["passwordResetRequired", "notFound"]), "notFound");
  assert.equal(mostSevere(["partlyDone", "notFound", "passwordResetRequired"]), "partlyDone");
  assert.equal(mostSevere(["unreachable", "auth", "forbidden"]), "auth");
  assert.equal(mostSevere(["unreachable", "usage"]), "usage");
  assert.equal(mostSevere(["usage", "internal", "auth"]), "internal");
  assert.equal(mostSevere(["unsupported", "unreachable"]), "unreachable");
  assert.equal(mostSevere(["notFound", "outputLost"]), "outputLost", "a kind outside the ranking counts as internal");
  assert.equal(mostSevere(["interrupted", "internal"]), "interrupted", "the first of equally severe kinds");
  assert.deepEqual(SEVERITY.map(exitCodeOf).sort(), [1, 2, 3, 4, 5, 6, 7, 8, 9], "every code of the table but 10 and 130 has a rank");
});

test("records arrive tagged, as they are produced; every context gets one outcome; failures stay local", async () => {
  const task = async (ctx: string, emit: (r: number) => Promise<void>) => {
    if (ctx === "down") {
      await sleep(15);
      throw new CamError("unreachable", "Cannot connect to the SSH server of down.example.com: Connection refused.");
    }
    const delay = ctx === "slow" ? 20 : 5;
    for (let i = 0; i < 3; i++) {
      await sleep(delay);
      await emit(i);
    }
    if (ctx === "partial") throw new CamError("passwordResetRequired", "2 of 3 clients can still sign in with their account's password until it is changed.");
  };
  const { events, outcomes } = await collect(runFanout(["slow", "down", "fast", "partial"], task, { parallel: 4 }));
  const records = events.filter((e) => e.kind === "record").map((e) => (e.kind === "record" ? `${e.context}:${e.record}` : ""));
  assert.equal(records.length, 9);
  assert.ok(records.indexOf("fast:2") < records.indexOf("slow:2"), `merged as they arrive: ${records.join(" ")}`);
  for (const ctx of ["slow", "fast", "partial"]) assert.deepEqual(records.filter((r) => r.startsWith(`${ctx}:`)), [0, 1, 2].map((i) => `${ctx}:${i}`));
  assert.deepEqual(outcomes.map((o) => [o.context, exitCodeOf(o.kind), o.records, o.started]), [["slow", 0, 3, true], ["down", 3, 0, true], ["fast", 0, 3, true], ["partial", 7, 3, true]]);
  assert.equal(outcomes[1]!.message, "Cannot connect to the SSH server of down.example.com: Connection refused.");
  assert.equal(events.filter((e) => e.kind === "outcome").length, 4);
  const json = outcomesJson(outcomes);
  assert.equal(json.exitCode, 3);
  assert.deepEqual(json.contexts.map((c) => c.status), ["ok", "failed", "ok", "failed"]);
  const lines = outcomeLines(outcomes);
  assert.match(lines[0]!, /^slow     ok        3 records, \d+\.\d s$/);
  assert.equal(lines[1], "down     exit 3    Cannot connect to the SSH server of down.example.com: Connection refused.");
});

test("at most `parallel` tasks run at once, started in the order given", async () => {
  let running = 0;
  let peak = 0;
  const started: string[] = [];
  const names = Array.from({ length: 9 }, (_, i) => `c${i}`);
  const { outcomes } = await collect(runFanout(names, async (ctx) => {
    started.push(ctx);
    running++;
    peak = Math.max(peak, running);
    await sleep(5 + (Number(ctx.slice(1)) % 3) * 5);
    running--;
  }, { parallel: 3 }));
  assert.equal(peak, 3);
  assert.deepEqual(started, names);
  assert.deepEqual(outcomes.map((o) => o.context), names, "outcomes come back in the order given");
});

test("an unexpected exception is an internal error (1) for that context only", async () => {
  const { outcomes } = await collect(runFanout(["a", "b"], async (ctx) => {
    if (ctx === "a") throw new TypeError("x is undefined");
  }, { parallel: 1 }));
  assert.equal(outcomes[0]!.kind, "internal");
  assert.match(outcomes[0]!.message!, /^unexpected error: x is undefined\. This is a bug/);
  assert.equal(outcomes[1]!.kind, null);
});

test("a slow consumer makes producers wait: never more than `buffer` records held", async () => {
  let produced = 0;
  let consumed = 0;
  let maxHeld = 0;
  const gen = runFanout(["a", "b"], async (_ctx, emit) => {
    for (let i = 0; i < 50; i++) {
      await emit(i);
      produced++;
      maxHeld = Math.max(maxHeld, produced - consumed);
    }
  }, { parallel: 2, buffer: 4 });
  for await (const e of gen) {
    if (e.kind !== "record") continue;
    consumed++;
    await sleep(1);
  }
  assert.equal(consumed, 100);
  assert.ok(maxHeld <= 4 + 2, `held ${maxHeld}`);
});

test("leaving the loop early cancels running tasks and starts no more", async () => {
  const seen: string[] = [];
  let aborted = 0;
  const gen = runFanout(["a", "b", "c", "d"], async (ctx, emit, signal) => {
    seen.push(ctx);
    signal.addEventListener("abort", () => aborted++);
    for (let i = 0; !signal.aborted; i++) {
      await emit(i);
      await sleep(2);
    }
  }, { parallel: 2 });
  let n = 0;
  for await (const e of gen) {
    if (e.kind === "record" && ++n === 5) break;
  }
  assert.deepEqual(seen, ["a", "b"]);
  assert.equal(aborted, 2);
});

test("a cancelled fan-out (Ctrl-C, deadline) ends running tasks and reports the rest as not run", async () => {
  const outer = new AbortController();
  const gen = runFanout(["a", "b", "c"], async (_ctx, _emit, signal) => {
    await new Promise((resolve, reject) => {
      const t = setTimeout(resolve, 5_000);
      signal.addEventListener("abort", () => {
        clearTimeout(t);
        reject(signal.reason);
      });
    });
  }, { parallel: 1, signal: outer.signal });
  setTimeout(() => outer.abort(new CamError("unreachable", "No answer within 1 s.")), 20);
  const { outcomes } = await collect(gen);
  assert.deepEqual(outcomes.map((o) => [o.context, o.kind, o.started]), [["a", "unreachable", true], ["b", "unreachable", false], ["c", "unreachable", false]]);
  assert.equal(outcomes[0]!.message, "No answer within 1 s.");
  assert.match(outcomes[1]!.message!, /^Not run/);
  assert.deepEqual(outcomesJson(outcomes).contexts.map((c) => c.status), ["failed", "not-run", "not-run"]);
});

test("--parallel must be a whole number >= 1", async () => {
  await assert.rejects(collect(runFanout(["a"], async () => undefined, { parallel: 0 })), /--parallel takes a whole number/);
});
