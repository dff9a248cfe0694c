// The container route's command lines, word for word: what camctl runs with a real engine.
import { test } from "node:test";
import assert from "node:assert/strict";
import { containerCommand } from "../../src/transports/container/command.js";
import { bridgeScriptForTests } from "../../src/transports/ssh/bridge.js";
import { checkContainerName } from "../../src/transports/container/route.js";
import type { SshSpec } from "../../src/transports/types.js";

const SOCK = "/var/lib/prosody/prosody.sock";
const ssh: SshSpec = { target: { user: "admin", host: "xmpp.example.com", port: undefined }, route: "exec", sudoUser: undefined, extraArgs: [] };

test("docker exec -i snikket perl -e '<bridge>' -- /var/lib/prosody/prosody.sock", () => {
  assert.deepEqual(containerCommand({ container: { name: "snikket", engine: "docker" }, socketPath: SOCK, engine: "docker" }),
    { program: "docker", args: ["exec", "-i", "snikket", "perl", "-e", bridgeScriptForTests, "--", SOCK] });
});

test("podman, and Snikket's socket path", () => {
  assert.deepEqual(containerCommand({ container: { name: "snikket", engine: "podman" }, socketPath: "/snikket/prosody/prosody.sock", engine: "podman" }),
    { program: "podman", args: ["exec", "-i", "snikket", "perl", "-e", bridgeScriptForTests, "--", "/snikket/prosody/prosody.sock"] });
});

test("with --ssh: ssh … admin@xmpp.example.com 'docker' 'exec' '-i' 'snikket' 'perl' '-e' '<bridge>' '--' '<socket>'", () => {
  const { program, args } = containerCommand({ container: { name: "snikket", engine: "docker" }, socketPath: SOCK, engine: "docker", ssh });
  assert.equal(program, "ssh");
  assert.equal(args.at(-1), `'docker' 'exec' '-i' 'snikket' 'perl' '-e' '${bridgeScriptForTests}' '--' '${SOCK}'`);
  assert.deepEqual(args.slice(-5, -1), ["-l", "admin", "--", "xmpp.example.com"]);
  assert.ok(args.includes("BatchMode=yes") && args.includes("-T"));
});

test("with --ssh and no engine: the server's shell picks docker, then podman", () => {
  const { args } = containerCommand({ container: { name: "snikket", engine: undefined }, socketPath: SOCK, engine: undefined, ssh });
  assert.match(args.at(-1)!, /^'sh' '-c' 'for e in docker podman; do .*exec "\$e" exec -i "\$0" "\$@".*' 'snikket' 'perl' '-e' /);
});

test("the test-only template replaces <engine> exec -i <name>", () => {
  assert.deepEqual(containerCommand({ container: { name: "4242", engine: undefined, execTemplate: ["nsenter", "--target", "{name}", "--mount", "--pid"] }, socketPath: SOCK, engine: undefined }),
    { program: "nsenter", args: ["--target", "4242", "--mount", "--pid", "perl", "-e", bridgeScriptForTests, "--", SOCK] });
});

test("container names: docker's rule", () => {
  for (const ok of ["snikket", "snikket-snikket-1", "a.b_c", "0f3e2a"]) assert.equal(checkContainerName(ok), ok);
  for (const bad of ["", "-it", "_x", "a b", "a/b", "x;y", "é"]) assert.throws(() => checkContainerName(bad), /is not a container name/);
});
