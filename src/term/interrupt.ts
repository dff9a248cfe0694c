// What Ctrl-C should add to "interrupted.": set while an interruption would leave something
// unknown (a revoke request in flight) or cut a run short (a bulk run's tally so far), read by
// bin/camctl's SIGINT handler through the bundle.
let hint: string | (() => string) | undefined;

/**
 * Sets (or, with undefined, clears) the sentence to add when camctl is interrupted; a function is
 * asked at the moment of the interruption (for counts that change as the run goes). Display-safe
 * text only.
 */
export function setInterruptHint(sentence: string | (() => string) | undefined): void {
  hint = sentence;
}

export function interruptHint(): string | undefined {
  return typeof hint === "function" ? hint() : hint;
}
