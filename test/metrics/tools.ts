// The real parsers the metrics tests check `-o openmetrics` with, as test/metrics/install-promtool.sh
// installs them: promtool (the classic Prometheus text format, as node-exporter's textfile
// collector parses it, plus its lint) and python3-prometheus-client's strict OpenMetrics parser.
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";

const PROMTOOL_DIR = process.env.CAMCTL_PROMTOOL_DIR ?? "/var/cache/camctl-test/promtool";
const PYTHON = "/usr/bin/python3";

/** promtool's path: the install script's cache first, then PATH. */
export function promtoolPath(): string | undefined {
  const cached = path.join(PROMTOOL_DIR, "promtool");
  if (fs.existsSync(cached)) return cached;
  for (const d of (process.env.PATH ?? "").split(path.delimiter)) {
    if (d && fs.existsSync(path.join(d, "promtool"))) return path.join(d, "promtool");
  }
  return undefined;
}

/** Why the metrics tools are missing (the tests are skipped with this), or undefined. */
export function metricsToolsUnavailable(): string | undefined {
  if (!promtoolPath()) return "promtool is missing (run test/metrics/install-promtool.sh as root)";
  const py = spawnSync(PYTHON, ["-c", "import prometheus_client.openmetrics.parser"], { encoding: "utf8" });
  if (py.status !== 0) return "python3-prometheus-client is missing (run test/metrics/install-promtool.sh as root)";
  return undefined;
}

/** `promtool check metrics` on `text`: its exit status and everything it said. */
export function promtoolCheck(text: string): { status: number | null; output: string } {
  const r = spawnSync(promtoolPath()!, ["check", "metrics"], { input: text, encoding: "utf8" });
  return { status: r.status, output: (r.stdout ?? "") + (r.stderr ?? "") };
}

export interface ParsedFamily {
  name: string;
  type: string;
  unit: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

const PARSE = `
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "unit": f.unit,
                "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
print(json.dumps(out))
`;

/** Parses `text` with the strict OpenMetrics parser; throws with the parser's complaint. */
export function parseOpenMetrics(text: string): ParsedFamily[] {
  const r = spawnSync(PYTHON, ["-c", PARSE], { input: text, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`the OpenMetrics parser refused the text: ${r.stderr}`);
  return JSON.parse(r.stdout) as ParsedFamily[];
}
