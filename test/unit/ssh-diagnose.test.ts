// ssh's messages as OpenSSH 9.2 (Debian 12) prints them, mapped to one sentence and a code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { diagnoseSsh, type SshEvidence } from "../../src/transports/ssh/diagnose.js";
import { parseSshTarget } from "../../src/transports/ssh/target.js";
import { exitCodeFor } from "../../src/core/errors.js";

function ev(stderr: string, o: Partial<SshEvidence> = {}): SshEvidence {
  return {
    target: parseSshTarget("ops@xmpp.example.com"),
    route: "forward",
    remoteSocket: "/var/lib/prosody/prosody.sock",
    sudoUser: "prosody",
    wasReady: false,
    exit: { code: 255, signal: null },
    stderr: stderr.split("\n"),
    ...o,
  };
}

function check(e: SshEvidence, code: number, re: RegExp) {
  const err = diagnoseSsh(e);
  assert.ok(err, "a diagnosis");
  assert.equal(exitCodeFor(err), code, err.message);
  assert.match(err.message, re);
  assert.doesNotMatch(err.message, /[\x00-\x1f\x7f\u202e]|@@/);
}

const CHANGED = `@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
Host key for xmpp.example.com has changed and you have requested strict checking.
Host key verification failed.`;

test("host keys and refused logins are authentication failures (4)", () => {
  check(ev(CHANGED), 4, /^The SSH host key of xmpp\.example\.com does not match the one in known_hosts.*ssh-keygen -R xmpp\.example\.com\)\.$/);
  check(ev("No ED25519 host key is known for xmpp.example.com and you have requested strict checking.\nHost key verification failed."), 4,
    /not in known_hosts, and camctl never accepts a new key on its own\. Check and accept it once with `ssh ops@xmpp\.example\.com`/);
  check(ev("ops@xmpp.example.com: Permission denied (publickey,password)."), 4, /^xmpp\.example\.com refused the SSH login as ops \(publickey,password\)\./);
  check(ev("Received disconnect from 192.0.2.1 port 22:2: Too many authentication failures"), 4, /too many keys/);
});

test("names, ports and a lost link are reachability failures (3)", () => {
  check(ev("ssh: Could not resolve hostname xmpp.example.com: Name or service not known"), 3, /^Cannot find the SSH host xmpp\.example\.com: Name or service not known\./);
  check(ev("ssh: connect to host 192.0.2.1 port 22: Connection timed out"), 3, /^Cannot connect to the SSH server of xmpp\.example\.com: Connection timed out\.$/);
  check(ev("kex_exchange_identification: read: Connection reset by peer"), 3, /Cannot connect/);
  check(ev("Connection to 192.0.2.1 closed by remote host.", { wasReady: true }), 3, /SSH connection to xmpp\.example\.com was lost before Prosody answered \(Connection to 192\.0\.2\.1 closed by remote host\)/);
  check(ev("", { wasReady: true, exit: { code: null, signal: "SIGKILL" } }), 3, /was lost .*ssh ended by SIGKILL/);
});

test("the far end: forwarding refused (5), socket not openable (3), and the bridge's precise answers", () => {
  check(ev("channel 2: open failed: administratively prohibited: open failed", { exit: undefined, wasReady: true }), 5, /does not allow forwarding to unix sockets/);
  check(ev("channel 2: open failed: connect failed: open failed", { exit: undefined, wasReady: true }), 3,
    /could not open the admin socket \/var\/lib\/prosody\/prosody\.sock: it is missing, or the account ops may not open it/);
  const exec = { route: "exec" as const };
  check(ev("camctl-bridge: No such file or directory", { ...exec, exit: { code: 41, signal: null } }), 3, /^There is no admin socket at \/var\/lib\/prosody\/prosody\.sock on xmpp\.example\.com\./);
  check(ev("camctl-bridge: Permission denied", { ...exec, exit: { code: 42, signal: null } }), 5, /the account ops may not open the admin socket.*prosody group.*umask = "007"/);
  check(ev("camctl-bridge: Connection refused", { ...exec, exit: { code: 43, signal: null } }), 3, /Nothing is listening/);
  check(ev("camctl-bridge: Permission denied", { route: "sudo", exit: { code: 42, signal: null } }), 5, /the user prosody may not open/);
  check(ev("sudo: a password is required", { route: "sudo", exit: { code: 1, signal: null } }), 5, /sudo on xmpp\.example\.com would not run the bridge as prosody without a password/);
  check(ev("This account is currently not available.", { ...exec, exit: { code: 1, signal: null } }), 3, /needs a login shell and perl/);
  check(ev("bash: line 1: perl: command not found", { ...exec, exit: { code: 127, signal: null } }), 3, /needs a login shell and perl/);
});

test("untrusted text from the server is shown escaped and short", () => {
  const evil = "kex_exchange_identification: banner line contains invalid characters \u001b]0;pwned\u0007" + "x".repeat(500);
  const err = diagnoseSsh(ev(evil));
  assert.ok(err);
  assert.match(err.message, /\\x1b\]0;pwned\\x07/);
  assert.ok(err.message.length < 300);
});

test("nothing to say while ssh runs quietly, or when the far end simply closed (exit 0 after use)", () => {
  assert.equal(diagnoseSsh(ev("", { exit: undefined, wasReady: true })), undefined);
  assert.equal(diagnoseSsh(ev("", { route: "exec", exit: { code: 0, signal: null }, wasReady: true })), undefined);
});
