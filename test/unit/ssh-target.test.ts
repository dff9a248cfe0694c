import { test } from "node:test";
import assert from "node:assert/strict";
import { formatSshTarget, parseSshTarget, sshDestinationArgs } from "../../src/transports/ssh/target.js";
import { checkRemoteSocketPath } from "../../src/transports/ssh/route.js";
import { checkSshArgs } from "../../src/transports/ssh/route.js";
import { bridgeCommand } from "../../src/transports/ssh/bridge.js";
import { CamError, exitCodeFor } from "../../src/core/errors.js";

const usage = (fn: () => unknown, re?: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof CamError && exitCodeFor(e) === 2 && (!re || re.test(e.message)) && !/[\x00-\x1f]/.test(e.message));

test("parses [user@]host[:port], IPv6 in brackets, and an ssh:// prefix", () => {
  assert.deepEqual(parseSshTarget("xmpp.example.com"), { user: undefined, host: "xmpp.example.com", port: undefined });
  assert.deepEqual(parseSshTarget("prosody-admin@xmpp.example.com:2222"), { user: "prosody-admin", host: "xmpp.example.com", port: 2222 });
  assert.deepEqual(parseSshTarget("root@[2001:db8::1]:22"), { user: "root", host: "2001:db8::1", port: 22 });
  assert.deepEqual(parseSshTarget("[::1]"), { user: undefined, host: "::1", port: undefined });
  assert.deepEqual(parseSshTarget("ssh://ops@prod-xmpp"), { user: "ops", host: "prod-xmpp", port: undefined });
  assert.deepEqual(parseSshTarget("prod_xmpp"), { user: undefined, host: "prod_xmpp", port: undefined }, "ssh_config aliases may have underscores");
});

test("refuses what would become an ssh option, a second argument or a shell word", () => {
  for (const bad of ["", "-oProxyCommand=sh", "host -p 1", "a@-oProxyCommand=x", "host:0", "host:65536", "host:22x",
    "2001:db8::1", "[host]:22", "user name@host", "u@h\u001b[31m", "u;id@host", "h`id`", "@host", "host:"]) {
    usage(() => parseSshTarget(bad), /--ssh .*give \[user@\]host\[:port\]/);
  }
  usage(() => parseSshTarget("x y", "ssh in context prod"), /^ssh in context prod "x y"/);
});

test("the destination ends the option list and round-trips for messages", () => {
  const t = parseSshTarget("ops@[2001:db8::1]:2222");
  assert.deepEqual(sshDestinationArgs(t), ["-p", "2222", "-l", "ops", "--", "2001:db8::1"]);
  assert.equal(formatSshTarget(t), "ops@[2001:db8::1]:2222");
  assert.deepEqual(sshDestinationArgs(parseSshTarget("prod")), ["--", "prod"]);
});

test("the remote socket must be an absolute path ssh and the bridge can carry", () => {
  assert.equal(checkRemoteSocketPath("/var/lib/prosody/prosody.sock"), "/var/lib/prosody/prosody.sock");
  for (const bad of ["prosody.sock", "/a b.sock", "/a:b", "/a'b", "/a\nb", "/a$b", "/var/lib/prosody/%h.sock", "/a%%b", "/a[1]", `/${"x".repeat(120)}`]) {
    usage(() => checkRemoteSocketPath(bad), /--socket/);
  }
});

test("a context's ssh_args takes options only, each with its value where it takes one", () => {
  for (const good of [[], ["-J", "bastion.example.com"], ["-o", "ProxyJump=b"], ["-oHostKeyAlias=x", "-vvv", "-4"], ["-p2222"], ["-vJ", "b"], ["-i", "-weird-key-name"], ["-F", "/etc/ssh/alt"]]) {
    assert.deepEqual(checkSshArgs(good, 'context "a"'), good);
  }
  const cases: [string[], RegExp][] = [
    [["evilhost"], /element "evilhost" is not an option/],
    [["-J", "b", "evilhost"], /element "evilhost" is not an option/],
    [["-v", "--", "evilhost"], /element "--" ends ssh's options/],
    [["-"], /element "-" is not an option/],
    [["-J"], /element "-J" needs a value after -J/],
    [["-vo"], /element "-vo" needs a value after -o/],
    [["-Z"], /element "-Z" has -Z, which is not an option ssh takes/],
    [["-W", "other:5582"], /element "-W" would send the admin stream to another host and port/],
    [["-vWother:1"], /element "-vWother:1" would send the admin stream/],
  ];
  for (const [bad, re] of cases) usage(() => checkSshArgs(bad, 'context "a"'), new RegExp(`^context "a": ssh_args ${re.source}.*ssh_args takes ssh options only`));
});

test("the bridge command is one line of single-quoted words, with sudo -n for the sudo route", () => {
  const plain = bridgeCommand({ remoteSocket: "/var/lib/prosody/prosody.sock", sudoUser: undefined });
  assert.match(plain, /^'perl' '-e' '[^'\n]+' '--' '\/var\/lib\/prosody\/prosody\.sock'$/);
  assert.doesNotMatch(plain, /!/, "no history expansion in any shell");
  const sudo = bridgeCommand({ remoteSocket: "/s", sudoUser: "prosody", probe: true });
  assert.match(sudo, /^'sudo' '-n' '-u' 'prosody' '--' 'perl' '-e' '[^']+' '--' '\/s' 'probe'$/);
  assert.throws(() => bridgeCommand({ remoteSocket: "/it's", sudoUser: undefined }));
});
