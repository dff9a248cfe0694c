import type { IOStreams } from "../term/iostreams.js";
import type { PrepareSource } from "../transports/prepare-source.js";

/** What commands get from the outside world; tests pass fakes. */
export interface Deps {
  io: IOStreams;
  prepareSource: PrepareSource;
  defaultSocket: string;
  /** Asks a yes/no question on the terminal; only called when stdin is a TTY. */
  confirm: (question: string, io: IOStreams) => Promise<boolean>;
  /** Asks for a line of text on the terminal (e.g. the host name to confirm a bulk change); undefined on Ctrl-C or Ctrl-D. Only called when stdin is a TTY. */
  ask: (question: string, io: IOStreams) => Promise<string | undefined>;
}
