// The completion scripts: the bash one run in a real bash (it completes commands, options and
// values); every script checked by its own shell's parser (`-n`) where that shell is installed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { main } from "../../src/cli/program.js";
import { fakeIO } from "../helpers/fake-io.js";

async function script(shell: string): Promise<string> {
  const f = fakeIO();
  const code = await main(["completion", shell], { io: f.io });
  assert.equal(code, 0, f.err());
  return f.out();
}

const installed = (shell: string) => spawnSync(shell, ["-c", "exit 0"], { stdio: "ignore" }).status === 0;

/** Runs `shell -n` (parse only, run nothing) on the script; returns the shell's complaints. */
function parseOnly(shell: string, text: string): { status: number | null; stderr: string } {
  const r = spawnSync(shell, ["-n"], { input: text, encoding: "utf8" });
  return { status: r.status, stderr: r.stderr };
}

test("bash completes commands, subcommands, options and --output values", async () => {
  const bash = await script("bash");
  const complete = (words: string[]) =>
    execFileSync("bash", ["-c", `${bash}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _camctl; echo "\${COMPREPLY[*]}"`], { encoding: "utf8" }).trim();
  assert.equal(complete(["camctl", "us"]), "user");
  assert.equal(complete(["camctl", "user", ""]), "clients revoke_client lockout history unlock");
  assert.equal(complete(["camctl", "user", "clients", "a@b.c", "--outp"]), "--output");
  assert.equal(complete(["camctl", "user", "clients", "a@b.c", "--output", ""]), "table json csv ndjson");
  assert.equal(complete(["camctl", "ho"]), "host");
  assert.equal(complete(["camctl", "host", ""]), "clients revoke apply history");
  assert.equal(complete(["camctl", "host", "revoke", "example.com", "--keep"]), "--keep-newest");
  assert.equal(complete(["camctl", "host", "revoke", "example.com", "--last-seen-b"]), "--last-seen-before");
  assert.equal(complete(["camctl", "host", "apply", "plan.json", "--y"]), "--yes");
  assert.equal(complete(["camctl", "user", "lockout", "a@b.c", "--new"]), "--new-password-file");
  assert.equal(complete(["camctl", "host", "clients", "example.com", "--last-seen-b"]), "--last-seen-before");
  assert.equal(complete(["camctl", "host", "clients", "example.com", "--type", ""]), "session access");
  assert.equal(complete(["camctl", "host", "clients", "example.com", "--summ"]), "--summary");
  assert.equal(complete(["camctl", "host", "clients", "example.com", "--no-e"]), "--no-expiry");
  // `user clients` does not take the host-wide filters.
  assert.equal(complete(["camctl", "user", "clients", "a@b.c", "--last-seen"]), "");
  assert.equal(complete(["camctl", "user", "revoke-client", "a@b.c", "grant/x", "--dr"]), "--dry-run");
  assert.equal(complete(["camctl", "user", "clients", "a@b.c", "--tls", "d"]), "direct");
  assert.equal(complete(["camctl", "completion", "f"]), "fish");
  // A command without a group (doctor), with and without its host arguments.
  assert.equal(complete(["camctl", "doctor", "--js"]), "--json");
  assert.equal(complete(["camctl", "doctor", "example.com", "--all-c"]), "--all-contexts");
  assert.equal(complete(["camctl", "config", ""]), "list current use path");
  // Options that choose the server may stand before the command; their values are not commands.
  assert.equal(complete(["camctl", "--ssh-r"]), "--ssh-route");
  assert.equal(complete(["camctl", "--ssh-route", ""]), "forward exec sudo");
  assert.equal(complete(["camctl", "--context", "prod", ""]).split(" ").slice(0, 5).join(" "), "user host doctor config completion");
  assert.equal(complete(["camctl", "--context", "prod", "host", ""]), "clients revoke apply history");
  assert.equal(complete(["camctl", "--ssh", "ops@xmpp.example.com", "host", "clients", "example.com", "--summ"]), "--summary");
});

for (const shell of ["bash", "zsh", "fish"] as const) {
  const have = installed(shell);
  test(`${shell} -n parses the ${shell} script without complaint`, { skip: have ? false : `${shell} is not installed; the structural checks below still run` }, async () => {
    const r = parseOnly(shell, await script(shell));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
  });
}

test("zsh script: a #compdef header, then the bash function through bashcompinit (bash -n parses that part)", async () => {
  const zsh = await script("zsh");
  assert.match(zsh, /^#compdef camctl\n/);
  assert.match(zsh, /^autoload -U \+X bashcompinit && bashcompinit$/m);
  assert.match(zsh, /complete -o default -F _camctl camctl/);
  // Without zsh here: its body is bash syntax (bashcompinit runs bash completion functions).
  const r = parseOnly("bash", zsh);
  assert.equal(r.status, 0, r.stderr);
});

test("fish script: every line is a comment or a complete -c camctl command with balanced quotes", async () => {
  const fish = await script("fish");
  assert.match(fish, /complete -c camctl -n "__fish_seen_subcommand_from user; and __fish_seen_subcommand_from clients" -s o -l output -x -a "table json csv ndjson"/);
  assert.match(fish, /complete -c camctl -n "__fish_seen_subcommand_from host; and __fish_seen_subcommand_from clients" -l last-seen-before -r/);
  assert.match(fish, /complete -c camctl -n "__fish_seen_subcommand_from host; and not __fish_seen_subcommand_from clients revoke apply history" -a "clients revoke apply history"/);
  assert.doesNotMatch(fish, /subcommand_from user; and __fish_seen_subcommand_from clients" -l last-seen-before/);
  assert.match(fish, /complete -c camctl -n "__fish_use_subcommand" -l ssh-route -x -a "forward exec sudo"/);
  for (const line of fish.trimEnd().split("\n")) {
    if (line.startsWith("#")) continue;
    assert.match(line, /^complete -c camctl( |$)/, line);
    const unquoted = line.replace(/"(?:[^"\\]|\\.)*"/g, "");
    assert.ok(!/["']/.test(unquoted), `unbalanced quotes: ${line}`);
  }
});
