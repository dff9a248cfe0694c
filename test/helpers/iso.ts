// Times for test fixtures: an IsoUtc (src/core/model.ts) is only ever made by the readers of outside
// times, so fixtures brand theirs through the same reader and must already be in its one form.
import { isoFromDateTime, isoFromUnix, type IsoUtc } from "../../src/core/model.js";

/** `text` as an IsoUtc; throws unless it is exactly that form, e.g. "2026-11-27T12:00:00Z". */
export function iso(text: string): IsoUtc;
export function iso(text: string | null): IsoUtc | null;
export function iso(text: string | null): IsoUtc | null {
  if (text === null) return null;
  const t = isoFromDateTime(text);
  if (t !== text) throw new Error(`test fixture: ${JSON.stringify(text)} is not an ISO 8601 UTC time in seconds with Z`);
  return t;
}

/** Unix seconds as an IsoUtc (fractions dropped); throws outside 0000-9999. */
export function isoAt(unixSeconds: number): IsoUtc {
  const t = isoFromUnix(unixSeconds);
  if (t === null) throw new Error(`test fixture: ${unixSeconds} is not a time with a four-digit year`);
  return t;
}
