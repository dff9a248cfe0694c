// The Ansible collection (ansible/ansible_collections/camctl/prosody) against its sources of
// truth, without running Ansible (test/integration/ansible.test.ts does that): the example
// playbook docs/ansible.md shows is the very file the integration test runs, and the modules'
// filters are camctl's host-wide filters, all of them and no others.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Command, type Option } from "commander";
import { addFilterOptions } from "../../src/core/filters.js";

const repoFile = (name: string) => readFileSync(new URL(`../../../${name}`, import.meta.url), "utf8");

test("docs/ansible.md shows ansible/examples/incident.yml exactly as the tests run it", () => {
  const example = repoFile("ansible/examples/incident.yml");
  assert.ok(repoFile("docs/ansible.md").includes("```yaml\n" + example + "```\n"), "docs/ansible.md must hold the example playbook verbatim in a yaml block");
  assert.match(repoFile("README.md"), /\]\(docs\/ansible\.md\)/);
});

test("the modules take every filter of camctl host clients, under the same names", () => {
  const utils = repoFile("ansible/ansible_collections/camctl/prosody/plugins/module_utils/camctl.py");
  const block = /^FILTER_ARGS = dict\(\n([\s\S]*?)\n\)/m.exec(utils);
  assert.ok(block, "FILTER_ARGS in module_utils/camctl.py");
  const collection = [...block[1]!.matchAll(/^ {4}(\w+)=dict\(/gm)].map((m) => m[1]!).sort();
  // --disconnected is connected: false.
  const camctl = (addFilterOptions(new Command()).options as Option[])
    .map((o) => o.long!)
    .filter((l) => l !== "--disconnected")
    .map((l) => l.replace(/^--/, "").replace(/-/g, "_"))
    .sort();
  assert.deepEqual(collection, camctl);
  // The filters' documentation fragment names each of them.
  const fragment = repoFile("ansible/ansible_collections/camctl/prosody/plugins/doc_fragments/camctl.py");
  for (const name of camctl) assert.match(fragment, new RegExp(`^  ${name}:$`, "m"), name);
});
