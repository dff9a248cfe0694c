// `--summary`: the counts of a host-wide listing as a small table for people, or as JSON.
import type { ClientSummary } from "../core/summary.js";
import { renderJson } from "./json.js";
import { displaySafe } from "../text/untrusted.js";
import { displayWidth, truncateToWidth } from "./width.js";

/** Longest software name shown before it is cut with "…" (JSON keeps it whole). */
const NAME_CAP = 48;

export function renderSummaryJson(head: Readonly<Record<string, string>>, s: ClientSummary): string {
  return renderJson({ ...head, summary: s });
}

export function renderSummaryText(host: string, s: ClientSummary): string {
  const lines: string[] = [];
  const count = (n: number, one: string) => `${n.toLocaleString("en-US")} ${n === 1 ? one : `${one}s`}`;
  lines.push(`${count(s.clients, "client")} on ${count(s.accounts, "account")} of ${displaySafe(host)} (${s.connected.toLocaleString("en-US")} connected)`);
  const section = (title: string, counts: Record<string, number>) => {
    const entries = Object.entries(counts);
    if (entries.length === 0) return;
    lines.push("", title);
    const names = entries.map(([k]) => truncateToWidth(displaySafe(k), NAME_CAP));
    const nameWidth = Math.max(...names.map(displayWidth));
    const countWidth = Math.max(...entries.map(([, v]) => v.toLocaleString("en-US").length));
    entries.forEach(([, v], i) => {
      const name = names[i]!;
      lines.push(`  ${name}${" ".repeat(nameWidth - displayWidth(name))}  ${v.toLocaleString("en-US").padStart(countWidth)}`);
    });
  };
  section("By software", s.bySoftware);
  section("By auth method", s.byAuth);
  section("By type", s.byType);
  section("By last seen", s.byLastSeen);
  section("By expiry", s.byExpiry);
  section("Accounts by last activity", s.byAccountActivity);
  section("Accounts by status", s.byAccountStatus);
  return lines.join("\n") + "\n";
}
