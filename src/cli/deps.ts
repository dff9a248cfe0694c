import type { IOStreams } from "../term/iostreams.js";
import type { Prompts } from "../term/confirm.js";
import type { PrepareSource } from "../transports/prepare-source.js";

/** What commands get from the outside world; tests pass fakes. */
export interface Deps extends Prompts {
  io: IOStreams;
  prepareSource: PrepareSource;
  defaultSocket: string;
}
