// Moved to src/text/untrusted.ts (the sanitiser is a foundation, not a renderer); this re-export
// keeps older imports compiling until they are switched over.
export { displaySafe, replaceUnsafe } from "../text/untrusted.js";
