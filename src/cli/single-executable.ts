// The entry of the single executable (scripts/build-sea.mjs): the whole program in one script that
// Node's single-executable support runs, for servers without npm or with an older Node. It starts
// as bin/camctl does, without bin/camctl's loader: everything is already in this one script.
import { exitWhenFlushed, interrupted, main } from "./program.js";

process.once("SIGINT", () => process.exit(interrupted()));
void main(process.argv.slice(2)).then(exitWhenFlushed);
