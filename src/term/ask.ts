// A line of text asked for on the terminal (the host name that confirms a large bulk change).
// Loaded only when a question is asked; readline echoes what is typed, on stderr like every prompt.
import { createInterface } from "node:readline";
import type { IOStreams } from "./iostreams.js";

/** The line typed, or undefined on Ctrl-C or Ctrl-D (both mean no). */
export function askOnTerminal(question: string, io: IOStreams): Promise<string | undefined> {
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
  return new Promise((resolve) => {
    let answer: string | undefined;
    // On a terminal readline receives Ctrl-C as a key and reports it here, not as a signal.
    rl.on("SIGINT", () => rl.close());
    rl.on("close", () => resolve(answer));
    rl.question(`${question} `, (line) => {
      answer = line;
      rl.close();
    });
  });
}
