import type { IOStreams } from "../iostreams.js";
import type { PrepareSource } from "../transport.js";

/** What commands get from the outside world; tests pass fakes. */
export interface Deps {
  io: IOStreams;
  prepareSource: PrepareSource;
  defaultSocket: string;
  /** Asks a yes/no question on the terminal; only called when stdin is a TTY. */
  confirm: (question: string, io: IOStreams) => Promise<boolean>;
}
