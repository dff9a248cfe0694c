// The published JSON Schemas (schemas/): each is draft 2020-12 with its $id, title and a description
// of every field, they compile in ajv's strict mode, and `camctl schema` lists exactly the files
// present and prints each one as it is. (test/integration/schemas.test.ts validates real output.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { main } from "../../src/cli/program.js";
import { SCHEMAS } from "../../src/cli/schema.js";
import { fakeIO } from "../helpers/fake-io.js";
import { loadSchemas, schemaFiles, schemaId } from "../helpers/schemas.js";

const DRAFT = "https://json-schema.org/draft/2020-12/schema";

/** Every `properties` entry in `node`, with its path, for the description check. */
function* fields(node: unknown, at: string): Generator<[string, Record<string, unknown>]> {
  if (Array.isArray(node)) {
    for (const [i, v] of node.entries()) yield* fields(v, `${at}/${i}`);
  } else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "properties" && v && typeof v === "object") {
        for (const [name, s] of Object.entries(v as Record<string, unknown>)) yield [`${at}/properties/${name}`, s as Record<string, unknown>];
      }
      yield* fields(v, `${at}/${k}`);
    }
  }
}

test("every schema is draft 2020-12 with its $id, a title, and a description of every field", () => {
  const files = schemaFiles();
  assert.ok(files.size >= 10, `the schemas are there (${files.size})`);
  for (const [name, text] of files) {
    const s = JSON.parse(text) as Record<string, unknown>;
    assert.equal(s.$schema, DRAFT, name);
    assert.equal(s.$id, schemaId(name), name);
    assert.ok(typeof s.title === "string" && s.title !== "", `${name} has a title`);
    assert.ok(typeof s.description === "string" && s.description !== "", `${name} has a description`);
    for (const [at, field] of fields(s, name)) assert.ok(typeof field.description === "string" && field.description !== "", `${at} has a description`);
    // Written as camctl prints it (2-space JSON, a final line feed), so `camctl schema` and the file agree byte for byte.
    assert.equal(text, JSON.stringify(s, null, 2) + "\n", `${name} is formatted as JSON.stringify(…, null, 2)`);
  }
});

/** Every subschema in `node` that lists properties, with its path. */
function* objectSchemas(node: unknown, at: string): Generator<[string, Record<string, unknown>]> {
  if (Array.isArray(node)) {
    for (const [i, v] of node.entries()) yield* objectSchemas(v, `${at}/${i}`);
  } else if (node && typeof node === "object") {
    const o = node as Record<string, unknown>;
    if (o.properties && typeof o.properties === "object" && !Array.isArray(o.properties)) yield [at, o];
    for (const [k, v] of Object.entries(o)) if (k !== "properties") yield* objectSchemas(v, `${at}/${k}`);
    if (o.properties && typeof o.properties === "object") for (const [k, v] of Object.entries(o.properties)) yield* objectSchemas(v, `${at}/properties/${k}`);
  }
}

/** The one fragment meant only as a $ref target, which records extend (they close it themselves). */
const OPEN_FRAGMENTS = new Set(["client/$defs/fields"]);

test("every schema compiles in ajv's strict mode, every $ref resolves, and every object is closed", () => {
  const ajv = loadSchemas();
  for (const [name, text] of schemaFiles()) {
    assert.ok(ajv.getSchema(schemaId(name)), name);
    // A field added to the output without its schema must fail validation: every object that lists
    // its properties admits no others (additionalProperties or unevaluatedProperties false).
    for (const [at, o] of objectSchemas(JSON.parse(text), name)) {
      if (OPEN_FRAGMENTS.has(at)) continue;
      assert.ok(o.additionalProperties === false || o.unevaluatedProperties === false, `${at} admits fields it does not describe`);
    }
  }
});

test("camctl schema lists exactly the files in schemas/, with their titles", async () => {
  const files = schemaFiles();
  assert.deepEqual(Object.keys(SCHEMAS).sort(), [...files.keys()].sort(), "src/cli/schema.ts names every file in schemas/, and only those");
  const f = fakeIO();
  assert.equal(await main(["schema"], { io: f.io }), 0, f.err());
  const listed = f.out().trimEnd().split("\n").map((l) => /^(\S+) +(.+)$/.exec(l)!.slice(1));
  assert.deepEqual(
    listed.map(([n]) => n).sort(),
    [...files.keys()].sort(),
  );
  for (const [name, title] of listed) assert.equal(title, (JSON.parse(files.get(name!)!) as { title: string }).title);
});

test("camctl schema <name> prints that file as it is; an unknown name is a usage error naming them", async () => {
  for (const [name, text] of schemaFiles()) {
    const f = fakeIO();
    assert.equal(await main(["schema", name], { io: f.io }), 0, f.err());
    assert.equal(f.out(), text, name);
  }
  const f = fakeIO();
  assert.equal(await main(["schema", "clients"], { io: f.io }), 2);
  assert.equal(f.out(), "");
  const message = f.err();
  assert.equal(message.trimEnd().split("\n").length, 1, message);
  assert.match(message, /^camctl: .*"clients"/);
  for (const name of schemaFiles().keys()) assert.ok(message.includes(name), `the message names ${name}: ${message}`);
});

test("docs/schemas.md's table names every schema, and only those", () => {
  const page = readFileSync(new URL("../../../docs/schemas.md", import.meta.url), "utf8");
  const named = [...page.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]!);
  assert.deepEqual(named.sort(), [...schemaFiles().keys()].sort());
});
