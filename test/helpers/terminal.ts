// What tests that need a real terminal share.
import { execFileSync } from "node:child_process";

/** util-linux `script` is installed: it runs camctl on a real pseudo-terminal. */
export const haveScript = (() => {
  try {
    execFileSync("script", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
