// The published JSON Schemas (schemas/, `camctl schema`) as the tests use them: every file loaded
// into ajv (draft 2020-12, strict, with ajv-formats for "date-time"), the way docs/schemas.md
// tells users to load them.
import assert from "node:assert/strict";
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

export const SCHEMA_DIR = fileURLToPath(new URL("../../../schemas/", import.meta.url));

/** The schema files by name (schemas/<name>.schema.json). */
export function schemaFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const f of fs.readdirSync(SCHEMA_DIR).sort()) {
    const m = /^(.+)\.schema\.json$/.exec(f);
    assert.ok(m, `schemas/ holds only <name>.schema.json files, not ${f}`);
    files.set(m[1]!, fs.readFileSync(SCHEMA_DIR + f, "utf8"));
  }
  return files;
}

// ajv-formats is CommonJS with its function as the default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** A validator with every schema loaded; strict: a keyword without its type, an unknown keyword, fails. */
export function loadSchemas(): Ajv2020 {
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
  addFormats(ajv);
  for (const text of schemaFiles().values()) ajv.addSchema(JSON.parse(text) as object);
  return ajv;
}

export const schemaId = (name: string) => `urn:camctl:schema:${name}`;

/** Whether `value` is valid under schema `name`; the errors in words otherwise. */
export function check(ajv: Ajv2020, name: string, value: unknown): string | null {
  const validate = ajv.getSchema(schemaId(name));
  assert.ok(validate, `there is a schema ${name}`);
  return validate(value) ? null : ajv.errorsText(validate.errors, { separator: "\n" });
}
