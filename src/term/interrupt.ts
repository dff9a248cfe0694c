// What Ctrl-C should add to "interrupted.": set while an interruption would leave something
// unknown (a revoke request in flight), read by bin/camctl's SIGINT handler through the bundle.
let hint: string | undefined;

/** Sets (or, with undefined, clears) the sentence to add when camctl is interrupted. Display-safe text only. */
export function setInterruptHint(sentence: string | undefined): void {
  hint = sentence;
}

export function interruptHint(): string | undefined {
  return hint;
}
