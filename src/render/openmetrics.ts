// `host clients --summary -o openmetrics`: the summary's counts as OpenMetrics text
// (https://github.com/prometheus/OpenMetrics/blob/main/specification/OpenMetrics.md), written so
// that the classic Prometheus text parser (node-exporter's textfile collector, promtool) reads it
// too: gauges only (no counter, so no _total/_created), no timestamps, no exemplars; `# UNIT` and
// `# EOF` are comments to the classic parser. Each family's samples are contiguous, one sample
// per label set. docs/metrics.md lists the families.
import type { ClientSummary } from "../core/summary.js";
import { displaySafe } from "../text/untrusted.js";

/** One scan of one host (one context in a fan-out). */
export interface ScanMetrics {
  /** The labels of every sample of this scan: host, and context when several were asked. */
  labels: Readonly<Record<string, string>>;
  /** The scan ran to its end and every account was read. */
  success: boolean;
  /** When the scan ended (or failed). */
  endedAt: Date;
  durationSeconds: number;
  /** Accounts the scan went through, as the server reported them; null: not reported. */
  accountsScanned: number | null;
  /** Accounts whose clients could not be read; null when the scan did not run to its end. */
  unreadAccounts: number | null;
  /** The counts; null when the scan did not run to its end (partial counts would mislead). */
  summary: ClientSummary | null;
}

/**
 * At most this many software names get their own series; the rest are counted together in
 * camctl_clients_by_software_others. Software names are chosen by whoever holds an account's
 * credentials, and every new label value is a new series in Prometheus.
 */
export const SOFTWARE_SERIES_CAP = 100;

/** Bucket names of the summary → label values that read well in PromQL. */
const BUCKET_LABEL: Readonly<Record<string, string>> = {
  "< 7 d": "lt_7d",
  "< 30 d": "lt_30d",
  "< 90 d": "lt_90d",
};
const bucketLabel = (bucket: string) => BUCKET_LABEL[bucket] ?? bucket;

/**
 * A label value as it is written between the double quotes. The value is first made what camctl's
 * tables show (displaySafe: control, format and bidi characters as visible escapes such as \x1b,
 * a backslash doubled), so no character of it can break a line or reach a terminal raw when the
 * file is read; then escaped as OpenMetrics says (backslash, double quote, line feed).
 */
export function labelValue(value: string): string {
  return escapeLabelValue(displaySafe(value));
}

/** OpenMetrics' own escaping of a label value: `\` → `\\`, `"` → `\"`, line feed → `\n`. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (ch) => (ch === "\\" ? "\\\\" : ch === '"' ? '\\"' : "\\n"));
}

function labelSet(labels: Readonly<Record<string, string>>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${labelValue(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** A number as OpenMetrics writes it (integers plainly, seconds with up to millisecond precision). */
const num = (n: number) => (Number.isInteger(n) ? String(n) : String(Math.round(n * 1000) / 1000));

interface Family {
  name: string;
  help: string;
  unit?: string;
  /** The samples of one scan: extra labels and the value. */
  samples: (scan: ScanMetrics) => [Record<string, string>, number][];
}

const one = (value: number | null | undefined): [Record<string, string>, number][] => (value === null || value === undefined ? [] : [[{}, value]]);
const counts = (label: string, m: Record<string, number> | undefined, name: (k: string) => string = (k) => k): [Record<string, string>, number][] =>
  m ? Object.entries(m).map(([k, v]) => [{ [label]: name(k) }, v]) : [];

const FAMILIES: readonly Family[] = [
  { name: "camctl_scan_success", help: "1 if the scan ran to its end and read every account, else 0.", samples: (s) => one(s.success ? 1 : 0) },
  { name: "camctl_scan_timestamp_seconds", unit: "seconds", help: "When the scan ended or failed, in seconds since the Unix epoch.", samples: (s) => one(s.endedAt.getTime() / 1000) },
  { name: "camctl_scan_duration_seconds", unit: "seconds", help: "How long the scan took.", samples: (s) => one(s.durationSeconds) },
  { name: "camctl_scan_accounts", help: "Accounts the scan went through, with clients or not (as the server reported).", samples: (s) => one(s.summary ? s.accountsScanned : null) },
  { name: "camctl_scan_unread_accounts", help: "Accounts whose clients the server could not read (left out of the counts).", samples: (s) => one(s.unreadAccounts) },
  { name: "camctl_accounts", help: "Accounts with at least one listed client.", samples: (s) => one(s.summary?.accounts) },
  { name: "camctl_clients", help: "Clients with access (sessions, access tokens, grants).", samples: (s) => one(s.summary?.clients) },
  { name: "camctl_clients_connected", help: "Clients connected at the time of the scan.", samples: (s) => one(s.summary?.connected) },
  { name: "camctl_clients_by_type", help: "Clients by type (session, access).", samples: (s) => counts("type", s.summary?.byType) },
  { name: "camctl_clients_by_auth", help: "Clients by authentication method; a client counts once for each of its methods.", samples: (s) => counts("auth", s.summary?.byAuth) },
  { name: "camctl_clients_by_software", help: `Clients by software name, for the ${SOFTWARE_SERIES_CAP} most common names.`, samples: (s) => softwareSamples(s).listed },
  { name: "camctl_clients_by_software_others", help: `Clients whose software is not among the ${SOFTWARE_SERIES_CAP} most common names.`, samples: (s) => one(s.summary ? softwareSamples(s).others : null) },
  { name: "camctl_clients_by_last_seen", help: "Clients by when they were last seen: lt_7d, lt_30d, lt_90d (days ago), older, never.", samples: (s) => counts("last_seen", s.summary?.byLastSeen, bucketLabel) },
  { name: "camctl_clients_by_expiry", help: "Clients by when their access ends: expired, lt_7d, lt_30d (days from now), later, never.", samples: (s) => counts("expires", s.summary?.byExpiry, bucketLabel) },
  { name: "camctl_accounts_by_last_activity", help: "Accounts with clients by their last activity: lt_7d, lt_30d, lt_90d (days ago), older, unknown.", samples: (s) => counts("last_activity", s.summary?.byAccountActivity, bucketLabel) },
  { name: "camctl_accounts_by_status", help: "Accounts with clients by status (enabled, disabled, unknown).", samples: (s) => counts("status", s.summary?.byAccountStatus) },
];

const softwareCache = new WeakMap<ScanMetrics, { listed: [Record<string, string>, number][]; others: number }>();

/** The summary's software counts are sorted largest first: the first SOFTWARE_SERIES_CAP get series. */
function softwareSamples(s: ScanMetrics): { listed: [Record<string, string>, number][]; others: number } {
  let r = softwareCache.get(s);
  if (!r) {
    const all = counts("software", s.summary?.bySoftware);
    r = { listed: all.slice(0, SOFTWARE_SERIES_CAP), others: all.slice(SOFTWARE_SERIES_CAP).reduce((n, [, v]) => n + v, 0) };
    softwareCache.set(s, r);
  }
  return r;
}

/** The whole exposition: every family that has a sample, scans in the order given, then `# EOF`. */
export function renderOpenMetrics(scans: readonly ScanMetrics[]): string {
  const lines: string[] = [];
  for (const f of FAMILIES) {
    const samples = scans.flatMap((scan) => f.samples(scan).map(([extra, value]) => `${f.name}${labelSet({ ...scan.labels, ...extra })} ${num(value)}`));
    if (samples.length === 0) continue;
    lines.push(`# TYPE ${f.name} gauge`);
    if (f.unit) lines.push(`# UNIT ${f.name} ${f.unit}`);
    lines.push(`# HELP ${f.name} ${f.help}`);
    lines.push(...samples);
  }
  lines.push("# EOF");
  return lines.join("\n") + "\n";
}
