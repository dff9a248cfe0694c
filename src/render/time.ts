// Time formatting for people and for pipes.
//
// Everything is in UTC, like the server's data and the JSON output: the clock and date shown
// next to a relative time ("3 min ago (14:37)") are UTC, so a table, a CSV file and a log line
// from the server always agree, whatever the TZ of the machine camctl runs on.

import { displaySafe } from "./sanitize.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MONTH = 30.44 * DAY; // average month; "N months" is only a rough guide, the date says the rest
const YEAR = 365.25 * DAY;

const MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function parse(iso: string): Date | undefined {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** `2026-11-27T14:37:25Z`, or undefined when `iso` is not a date. */
export function normalizeIso(iso: string): string | undefined {
  const d = parse(iso);
  return d ? d.toISOString().replace(/\.\d{3}Z$/, "Z") : undefined;
}

/** The stable absolute form for pipes and non-terminal tables; null stays null. */
export function isoTime(iso: string | null): string | null {
  if (iso === null) return null;
  // An unparsable value from the server is shown as it came, made safe.
  return normalizeIso(iso) ?? displaySafe(iso);
}

/** "3 min ago", "5 h ago", "12 days ago", "in 3 days", "just now". */
export function relativeTime(iso: string, now: Date): string {
  const d = parse(iso);
  if (!d) return displaySafe(iso);
  const diff = now.getTime() - d.getTime();
  const future = diff < 0;
  const abs = Math.abs(diff);
  if (abs < MINUTE) return future ? "in under 1 min" : "just now";
  let amount: string;
  if (abs < HOUR) amount = `${Math.floor(abs / MINUTE)} min`;
  else if (abs < DAY) amount = `${Math.floor(abs / HOUR)} h`;
  else if (abs < 60 * DAY) amount = plural(Math.floor(abs / DAY), "day");
  else if (abs < 2 * YEAR) amount = plural(Math.floor(abs / MONTH), "month");
  else amount = plural(Math.floor(abs / YEAR), "year");
  return future ? `in ${amount}` : `${amount} ago`;
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

/**
 * The date part shown next to a relative time, as precise as is useful: the clock for today,
 * month, day and clock within a week, the full date beyond that. All UTC.
 */
function anchor(d: Date, now: Date): string {
  const clock = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
  const sameDay = d.toISOString().slice(0, 10) === now.toISOString().slice(0, 10);
  if (sameDay) return clock;
  if (Math.abs(now.getTime() - d.getTime()) < 7 * DAY) {
    return `${MONTH_NAMES[d.getUTCMonth()]} ${pad2(d.getUTCDate())} ${clock}`;
  }
  return d.toISOString().slice(0, 10);
}

/** "3 min ago (14:37)", "5 h ago (Nov 27 09:12)", "in 3 days (2026-11-30)"; `-` for null. */
export function humanTime(iso: string | null, now: Date): string {
  if (iso === null) return "-";
  const d = parse(iso);
  if (!d) return displaySafe(iso);
  return `${relativeTime(iso, now)} (${anchor(d, now)})`;
}
