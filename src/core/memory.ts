// Peak memory of the streaming commands (host scan, history, bulk apply).
import { setFlagsFromString } from "node:v8";

/**
 * A stream of rows allocates short-lived strings and objects at a steady, high rate, and V8
 * answers that by growing its young generation up to its default maximum (several × 16 MiB), which
 * made camctl's peak RSS follow the size of the stream rather than the rows in flight (~100 MiB
 * for an account of 40,000 grants or 100,000 history entries, BENCHMARKS.md). Keeping the young
 * generation at its starting size bounds it; V8 reads this flag each time it would grow it, so
 * setting it when the stream starts takes effect.
 */
export function boundYoungGeneration(): void {
  setFlagsFromString("--semi-space-growth-factor=1");
}
