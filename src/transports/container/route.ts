// What the command line, a context and the environment say about a container, checked without
// loading the link (link.ts spawns the engine and is loaded only when a link is opened).
import { usageError } from "../../core/errors.js";
import { displaySafe } from "../../text/untrusted.js";

/** docker's rule for container names (and what ids look like): podman's is the same. */
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const MAX_NAME = 253;

export function checkContainerName(value: string, what = "--container"): string {
  if (!CONTAINER_NAME.test(value) || value.length > MAX_NAME) {
    throw usageError(`${what} "${displaySafe(value)}" is not a container name; names are letters, digits, "_", "." and "-", starting with a letter or digit (docker ps shows them).`);
  }
  return value;
}

/** The environment variable of the test-only exec template (docs/containers.md, "How this is tested"). */
export const EXEC_TEMPLATE_VARIABLE = "CAMCTL_CONTAINER_EXEC_TEMPLATE";

/**
 * $CAMCTL_CONTAINER_EXEC_TEMPLATE, for tests only: a JSON list of words that replaces
 * `<engine> exec -i <name>`, with "{name}" standing for the container's name, e.g.
 * ["nsenter", "--target", "{name}", "--mount", "--pid"]. The bridge's words follow it.
 */
export function parseExecTemplate(text: string): string[] {
  let words: unknown;
  try {
    words = JSON.parse(text);
  } catch {
    words = undefined;
  }
  if (!Array.isArray(words) || words.length === 0 || !words.every((w): w is string => typeof w === "string" && w.length > 0 && !/['!\0\n\r]/.test(w))) {
    throw usageError(`$${EXEC_TEMPLATE_VARIABLE} must be a JSON list of words (it is for camctl's tests only; unset it).`);
  }
  return words;
}
