// Preloaded into a measured Node process (node --require bench/vmhwm.cjs …): at exit, writes the
// process's peak resident set (VmHWM from /proc/self/status, KiB) to $CAMCTL_BENCH_RSS_FILE.
// Read at exit by the process itself because /proc/<pid> is gone once the parent has reaped it.
"use strict";
const file = process.env.CAMCTL_BENCH_RSS_FILE;
if (file) {
  process.on("exit", () => {
    try {
      const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(require("node:fs").readFileSync("/proc/self/status", "utf8"));
      if (m) require("node:fs").writeFileSync(file, m[1]);
    } catch {
      /* not Linux: no figure */
    }
  });
}
// With $CAMCTL_BENCH_CPU_FILE: also the process's own CPU time at exit ("user system", µs).
const cpuFile = process.env.CAMCTL_BENCH_CPU_FILE;
if (cpuFile) {
  process.on("exit", () => {
    const u = process.cpuUsage();
    require("node:fs").writeFileSync(cpuFile, `${u.user} ${u.system}`);
  });
}
