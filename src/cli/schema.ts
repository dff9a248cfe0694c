// camctl schema [name]: the JSON Schemas (draft 2020-12) of every JSON and NDJSON record camctl
// prints, and of the plan file. The files in schemas/ are the source (shipped in the package); the
// build bundles them into camctl, each loaded only when printed, so this needs no file at run time
// and prints exactly what the package ships. docs/schemas.md says how to use them.
import { Argument, type Command } from "commander";
import type { Deps } from "./deps.js";
import { OutputWriter } from "../term/iostreams.js";

type SchemaModule = { default: { title: string; $id: string } };

/** Every schema by name (its file: schemas/<name>.schema.json); a test checks it against the folder. */
export const SCHEMAS: Readonly<Record<string, () => Promise<SchemaModule>>> = {
  client: () => import("../../schemas/client.schema.json", { with: { type: "json" } }),
  "user-clients": () => import("../../schemas/user-clients.schema.json", { with: { type: "json" } }),
  "host-client": () => import("../../schemas/host-client.schema.json", { with: { type: "json" } }),
  "host-clients": () => import("../../schemas/host-clients.schema.json", { with: { type: "json" } }),
  "host-summary": () => import("../../schemas/host-summary.schema.json", { with: { type: "json" } }),
  "revoke-client": () => import("../../schemas/revoke-client.schema.json", { with: { type: "json" } }),
  "bulk-result": () => import("../../schemas/bulk-result.schema.json", { with: { type: "json" } }),
  "bulk-run": () => import("../../schemas/bulk-run.schema.json", { with: { type: "json" } }),
  "plan-out": () => import("../../schemas/plan-out.schema.json", { with: { type: "json" } }),
  plan: () => import("../../schemas/plan.schema.json", { with: { type: "json" } }),
  lockout: () => import("../../schemas/lockout.schema.json", { with: { type: "json" } }),
  unlock: () => import("../../schemas/unlock.schema.json", { with: { type: "json" } }),
  "history-event": () => import("../../schemas/history-event.schema.json", { with: { type: "json" } }),
  history: () => import("../../schemas/history.schema.json", { with: { type: "json" } }),
  "watch-event": () => import("../../schemas/watch-event.schema.json", { with: { type: "json" } }),
  "doctor-check": () => import("../../schemas/doctor-check.schema.json", { with: { type: "json" } }),
  doctor: () => import("../../schemas/doctor.schema.json", { with: { type: "json" } }),
  "context-status": () => import("../../schemas/context-status.schema.json", { with: { type: "json" } }),
  "config-list": () => import("../../schemas/config-list.schema.json", { with: { type: "json" } }),
  "config-current": () => import("../../schemas/config-current.schema.json", { with: { type: "json" } }),
  "config-context": () => import("../../schemas/config-context.schema.json", { with: { type: "json" } }),
};

const SCHEMA_HELP = `
Without a name: every schema's name and title. With one: that schema, as
JSON on stdout. The schemas refer to each other by their $id
(urn:camctl:schema:<name>): load them all into the validator. They are also
in the package's schemas/ folder. See docs/schemas.md.

Examples:
  camctl schema
  camctl schema host-client > host-client.schema.json`;

export function register(program: Command, deps: Deps): void {
  program
    .command("schema")
    .description("print the JSON Schema (2020-12) of a record camctl prints, or list them")
    // Any other name is refused by commander: a usage error (exit 2) that lists these.
    .addArgument(new Argument("[name]", "the schema, e.g. host-client (without it: the list)").choices(Object.keys(SCHEMAS)))
    .addHelpText("after", SCHEMA_HELP)
    .action(async (name: string | undefined) => {
      const out = new OutputWriter(deps.io.stdout);
      if (name === undefined) {
        const names = Object.keys(SCHEMAS);
        const titles = await Promise.all(names.map(async (n) => (await SCHEMAS[n]!()).default.title));
        const width = Math.max(...names.map((n) => n.length));
        await out.write(names.map((n, i) => `${n.padEnd(width)}  ${titles[i]}\n`).join(""));
      } else {
        const { renderJson } = await import("../render/json.js");
        await out.write(renderJson((await SCHEMAS[name]!()).default));
      }
      await out.flush();
    });
}
