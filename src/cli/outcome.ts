// How a command ends on an outcome the core decided (src/core/outcomes.ts; the most severe kind
// of a fan-out's contexts or of doctor's checks, src/core/errors.ts): nothing when it is done
// (null), else a CamError of its kind, whose exit code errors.ts alone knows.
import { CamError, type ErrorKind } from "../core/errors.js";
import type { SafeText } from "../text/untrusted.js";

/** Throws the outcome's error, worded by `words` (only called then), unless the outcome is done. */
export function throwUnlessDone(kind: ErrorKind | null, words: () => string | SafeText, condition?: string): void {
  if (kind !== null) throw new CamError(kind, words(), condition);
}
