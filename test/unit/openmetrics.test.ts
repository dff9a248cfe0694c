// The OpenMetrics text of `host clients --summary -o openmetrics`: its escaping of attacker-chosen
// names, its layout (what both the classic and the OpenMetrics parsers require), and the bound
// on software series. The real parsers check real output in test/integration/metrics.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SummaryBuilder } from "../../src/core/summary.js";
import { escapeLabelValue, labelValue, renderOpenMetrics, SOFTWARE_SERIES_CAP, type ScanMetrics } from "../../src/render/openmetrics.js";
import type { HostClientRecord } from "../../src/core/filters.js";

const NOW = new Date("2026-11-27T12:00:00Z");

function rec(account: string, software: string | null): HostClientRecord {
  return {
    account, id: `client/${account}/${software}`, type: "session", connected: false, firstSeen: null, lastSeen: null, expires: null,
    auth: ["password"], userAgent: { software, version: null, softwareId: null, uri: null, device: null }, permission: null,
  };
}

const scan = (summary: ScanMetrics["summary"], labels: Record<string, string> = { host: "example.com" }): ScanMetrics => ({
  labels, success: summary !== null, endedAt: NOW, durationSeconds: 1.5, accountsScanned: summary ? 10 : null, unreadAccounts: summary ? 0 : null, summary,
});

test("label values: OpenMetrics' escapes for backslash, double quote and line feed", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeLabelValue("plain"), "plain");
});

test("label values: a hostile name cannot break the line or reach a terminal raw", () => {
  for (const name of ['Evil "App"\nfake_metric{x="y"} 1', "Esc\x1b[31m\r\u2028\u202e\x00", "C:\\x1b"]) {
    const v = labelValue(name);
    assert.doesNotMatch(v, /[\x00-\x1f\x7f-\x9f\u2028\u202e]/, JSON.stringify(v));
    assert.doesNotMatch(v.replace(/\\\\|\\"/g, ""), /"/, "every double quote is escaped");
  }
  // Unambiguous: a name that really contains the text \x1b is not written like an ESC.
  assert.notEqual(labelValue("\x1b"), labelValue("\\x1b"));
});

test("layout: TYPE before HELP and the samples, every family once and contiguous, # EOF last", () => {
  const b = new SummaryBuilder(NOW);
  b.add(rec("a@x", "Gajim"));
  b.add(rec("b@x", null));
  const text = renderOpenMetrics([scan(b.result(), { context: "a", host: "x" }), scan(b.result(), { context: "b", host: "x" })]);
  const lines = text.trimEnd().split("\n");
  assert.equal(lines.at(-1), "# EOF");
  assert.ok(text.endsWith("\n"));
  const seen: string[] = [];
  let current = "";
  for (const line of lines.slice(0, -1)) {
    const type = /^# TYPE (\S+) gauge$/.exec(line);
    if (type) {
      assert.ok(!seen.includes(type[1]!), `${type[1]} described once`);
      seen.push((current = type[1]!));
    } else if (!line.startsWith("#")) {
      assert.ok(line.startsWith(`${current}{`), `${line} belongs to ${current}`);
    }
  }
  assert.equal(new Set(lines).size, lines.length, "no sample written twice");
  assert.match(text, /^camctl_clients_by_software\{context="a",host="x",software="\(none\)"\} 1$/m);
  assert.ok(text.includes(`\ncamctl_scan_timestamp_seconds{context="b",host="x"} ${NOW.getTime() / 1000}\n`));
  assert.match(text, /^# UNIT camctl_scan_duration_seconds seconds$/m);
});

test("a failed scan: its success 0 and when, no counts", () => {
  const text = renderOpenMetrics([scan(null)]);
  assert.match(text, /^camctl_scan_success\{host="example.com"\} 0$/m);
  assert.doesNotMatch(text, /^camctl_(clients|accounts)/m);
});

test(`software: the ${SOFTWARE_SERIES_CAP} most common names get series, the rest one count`, () => {
  const b = new SummaryBuilder(NOW);
  for (let i = 0; i < SOFTWARE_SERIES_CAP + 20; i++) {
    // App 0 … App 99 twice each, App 100 … once: the 100 most common are unambiguous.
    b.add(rec(`u${i}@x`, `App ${i}`));
    if (i < SOFTWARE_SERIES_CAP) b.add(rec(`v${i}@x`, `App ${i}`));
  }
  const text = renderOpenMetrics([scan(b.result())]);
  assert.equal(text.match(/^camctl_clients_by_software\{/gm)?.length, SOFTWARE_SERIES_CAP);
  assert.match(text, /^camctl_clients_by_software\{host="example.com",software="App 99"\} 2$/m);
  assert.doesNotMatch(text, /software="App 100"/);
  assert.match(text, /^camctl_clients_by_software_others\{host="example.com"\} 20$/m);
});
