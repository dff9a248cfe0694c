// What Ctrl-C should add to "interrupted.": set while an interruption would leave something
// unknown (a revoke request in flight) or cut a run short (a bulk run's tally so far), read by
// bin/camctl's SIGINT handler through the bundle.
/** One sentence, or several lines (a run on several contexts: its total, then one line each). */
type Hint = string | readonly string[];
let hint: Hint | (() => Hint) | undefined;

/**
 * Sets (or, with undefined, clears) the sentence to add when camctl is interrupted; a function is
 * asked at the moment of the interruption (for counts that change as the run goes). Display-safe
 * text only.
 */
export function setInterruptHint(sentence: Hint | (() => Hint) | undefined): void {
  hint = sentence;
}

/** The hint's lines (none when there is no hint); the first goes after "interrupted.". */
export function interruptLines(): string[] {
  const h = typeof hint === "function" ? hint() : hint;
  return h === undefined ? [] : typeof h === "string" ? [h] : [...h];
}

/** The hint as one text (its lines joined), or undefined. */
export function interruptHint(): string | undefined {
  const lines = interruptLines();
  return lines.length > 0 ? lines.join(" ") : undefined;
}
