// The bash completion script, run in a real bash: it completes commands, options and values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { PassThrough } from "node:stream";
import { main } from "../../src/cli.js";

async function script(shell: string): Promise<string> {
  const stdout = new PassThrough();
  let out = "";
  stdout.on("data", (d: Buffer) => (out += d.toString()));
  const code = await main(["completion", shell], {
    io: { stdin: new PassThrough(), stdout, stderr: new PassThrough(), stdinIsTTY: false, stdoutIsTTY: false, color: false, width: undefined, now: () => new Date(), env: {} },
  });
  assert.equal(code, 0);
  return out;
}

test("bash completes commands, subcommands, options and --output values", async () => {
  const bash = await script("bash");
  const complete = (words: string[]) =>
    execFileSync("bash", ["-c", `${bash}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _camctl; echo "\${COMPREPLY[*]}"`], { encoding: "utf8" }).trim();
  assert.equal(complete(["camctl", "us"]), "user");
  assert.equal(complete(["camctl", "user", ""]), "clients revoke_client");
  assert.equal(complete(["camctl", "user", "clients", "a@b.c", "--outp"]), "--output");
  assert.equal(complete(["camctl", "user", "clients", "a@b.c", "--output", ""]), "table json csv");
  assert.equal(complete(["camctl", "user", "revoke-client", "a@b.c", "grant/x", "--dr"]), "--dry-run");
  assert.equal(complete(["camctl", "user", "clients", "a@b.c", "--tls", "d"]), "direct");
  assert.equal(complete(["camctl", "completion", "f"]), "fish");
});

test("zsh and fish scripts are syntactically whole", async () => {
  const zsh = await script("zsh");
  assert.match(zsh, /^#compdef camctl/);
  assert.match(zsh, /complete -o default -F _camctl camctl/);
  const fish = await script("fish");
  assert.match(fish, /complete -c camctl -n "__fish_seen_subcommand_from clients" -s o -l output -x -a "table json csv"/);
});
