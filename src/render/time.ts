// Time formatting for people and for pipes.
//
// Everything is in UTC, like the server's data and the JSON output: the clock and date shown
// next to a relative time ("3 min ago (14:37)") are UTC, so a table, a CSV file and a log line
// from the server always agree, whatever the TZ of the machine camctl runs on.
//
// Times come as IsoUtc (model.ts), checked where they were read: they are formatted here, never
// checked again. Their absolute form is the IsoUtc itself.

import type { IsoUtc } from "../core/model.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MONTH = 30.44 * DAY; // average month; "N months" is only a rough guide, the date says the rest
const YEAR = 365.25 * DAY;

const MONTH_NAMES = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

function relative(ms: number, now: number): string {
  const diff = now - ms;
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
function anchor(ms: number, now: number): string {
  const d = new Date(ms);
  const clock = `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}`;
  if (Math.floor(ms / DAY) === Math.floor(now / DAY)) return clock; // same UTC day
  if (Math.abs(now - ms) < 7 * DAY) return `${MONTH_NAMES[d.getUTCMonth()]} ${pad2(d.getUTCDate())} ${clock}`;
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
}

/** "3 min ago (14:37)", "5 h ago (Nov 27 09:12)", "in 3 days (2026-11-30)"; `-` for null. */
export function humanTime(iso: IsoUtc | null, now: Date): string {
  return iso === null ? "-" : humanTimeForms(iso, now).full;
}

/** Both forms at once for the table: `full` as humanTime, `compact` the relative part alone ("3 min ago"). */
export function humanTimeForms(iso: IsoUtc, now: Date): { full: string; compact: string } {
  const ms = Date.parse(iso);
  const compact = relative(ms, now.getTime());
  return { full: `${compact} (${anchor(ms, now.getTime())})`, compact };
}
