// The window of the pipelined host-wide listing over XMPP (host-list.ts pipelinedRanges and
// rangesAfter): pages handed over strictly in order whatever order the answers come in, every
// account exactly once, ranges cut short by the server finished before the next range, at most
// window + 1 requests outstanding, and an error or an early stop ending it without handing over
// anything after.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pipelinedRanges, rangesAfter, type AccountRange } from "../../src/transports/xmpp/host-list.js";

interface Page { accounts: number[]; scanned: number; last: string | null; complete: boolean }

/**
 * A server of `total` accounts ("u0", "u1", …) that covers at most `cap(start)` accounts per page
 * and answers after a random number of turns of the event loop, so answers overtake each other.
 */
function server(total: number, cap: (start: number) => number, seed = 1) {
  let rnd = seed;
  const random = () => ((rnd = (rnd * 1103515245 + 12345) % 2147483648) / 2147483648);
  const asked: Array<{ start: number; end: number; after: string | null }> = [];
  let outstanding = 0;
  let most = 0;
  let failAt: number | null = null;
  const ask = async (range: AccountRange, after: string | null): Promise<Page> => {
    asked.push({ start: range.start, end: range.end, after });
    outstanding++;
    most = Math.max(most, outstanding);
    const start = after === null ? range.start : Number(after.slice(1)) + 1;
    for (let turns = Math.floor(random() * 6); turns > 0; turns--) await new Promise((r) => setImmediate(r));
    outstanding--;
    if (failAt !== null && start <= failAt && failAt < range.end) throw new Error(`failed at ${failAt}`);
    const stop = Math.min(range.end, start + Math.max(1, cap(start)), total);
    const accounts = Array.from({ length: stop - start }, (_, i) => start + i);
    return { accounts, scanned: stop, last: stop > start ? `u${stop - 1}` : after, complete: stop >= total };
  };
  return { ask, asked, most: () => most, failAt: (n: number) => (failAt = n) };
}

const stalled = () => new Error("stalled");

test("rangesAfter: fixed ranges after the first page, the first continuing after its cursor; none when the first page was all", () => {
  assert.deepEqual(rangesAfter(3, "c", 10, 3), [
    { start: 3, end: 6, after: "c" },
    { start: 6, end: 9, after: null },
    { start: 9, end: 10, after: null },
  ]);
  assert.deepEqual(rangesAfter(0, "big/client/7", 2, 1), [{ start: 0, end: 1, after: "big/client/7" }, { start: 1, end: 2, after: null }]);
  assert.deepEqual(rangesAfter(10, "j", 10, 4), []);
});

test("every account exactly once and in order, whatever order the answers arrive in; ranges cut short are finished first", async () => {
  for (const [total, size, cap, window] of [[100, 7, () => 7, 3], [100, 7, (s: number) => (s % 5) + 1, 3], [57, 10, (s: number) => (s % 3 === 0 ? 2 : 10), 1], [40, 1, () => 1, 4], [33, 50, () => 4, 3]] as const) {
    for (const seed of [1, 2, 3]) {
      const srv = server(total, cap, seed);
      const seen: number[] = [];
      for await (const page of pipelinedRanges(rangesAfter(0, null, total, size), window, srv.ask, stalled)) seen.push(...page.accounts);
      assert.deepEqual(seen, Array.from({ length: total }, (_, i) => i), `total ${total} size ${size} window ${window} seed ${seed}`);
      assert.ok(srv.most() <= window + 1, `at most window + 1 requests outstanding (${srv.most()})`);
    }
  }
});

test("the window is used: with answers held back, `window` first requests go out before the first page is handed over", async () => {
  const srv = server(30, () => 10);
  const pages = pipelinedRanges(rangesAfter(0, null, 30, 5), 3, srv.ask, stalled);
  await pages.next();
  assert.ok(srv.asked.length >= 3, `asked ${srv.asked.length}`);
  assert.deepEqual(srv.asked.slice(0, 3).map((a) => a.start), [0, 5, 10]);
  await pages.return(undefined);
});

test("an error ends the listing at the range that failed: nothing after it is handed over, nothing more is asked", async () => {
  const srv = server(50, () => 3);
  srv.failAt(22);
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const page of pipelinedRanges(rangesAfter(0, null, 50, 5), 3, srv.ask, stalled)) seen.push(...page.accounts);
  }, /failed at 22/);
  assert.deepEqual(seen, Array.from({ length: 20 }, (_, i) => i), "the ranges before the failed one, complete");
  const asked = srv.asked.length;
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(srv.asked.length, asked);
  assert.ok(srv.asked.every((a) => a.start < 20 + 5 * 4), "no range beyond the window of the failed one");
});

test("a consumer that stops early stops the asking", async () => {
  const srv = server(1000, () => 10);
  for await (const page of pipelinedRanges(rangesAfter(0, null, 1000, 10), 3, srv.ask, stalled)) {
    if (page.accounts[0] === 20) break;
  }
  await new Promise((r) => setTimeout(r, 20));
  assert.ok(srv.asked.length <= 6, `asked ${srv.asked.length}`);
});

test("a server that does not move on within a range is an error, not a loop", async () => {
  const ask = async (range: AccountRange, after: string | null): Promise<Page> => ({ accounts: [], scanned: range.start, last: after ?? "x", complete: false });
  await assert.rejects(async () => {
    for await (const _ of pipelinedRanges(rangesAfter(0, null, 10, 5), 3, ask, stalled)) void _;
  }, /stalled/);
});
