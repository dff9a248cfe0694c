// The "exec" and "sudo" routes: instead of OpenSSH's unix-socket forwarding, ssh runs a small
// bridge on the server that connects to the admin socket and copies bytes between it and the
// ssh channel. It is written in Perl because perl-base is Essential in Debian (and present on
// every other Prosody platform): the server needs nothing new.
//
// The bridge also says precisely why the socket could not be opened (its exit code), which
// OpenSSH's forwarding cannot: sshd answers any failure with the same "open failed".

/** Bridge exit codes (chosen away from the shell's 126/127 and ssh's 255). */
export const BRIDGE_EXIT = {
  other: 40,
  missing: 41,
  permission: 42,
  refused: 43,
  notSocket: 44,
} as const;

/** The line the bridge writes on stderr once the admin socket is open. */
export const BRIDGE_READY = "camctl-bridge: ready";

// One line, without single quotes or exclamation marks, so that wrapping it in single quotes is
// a plain literal for every login shell an account may have (sh, bash, dash, zsh, fish, csh).
// "probe" mode opens the socket, reports, and exits without relaying anything.
const BRIDGE_PERL = [
  "use strict; use IO::Socket::UNIX; use IO::Select; use Errno qw(ENOENT EACCES EPERM ECONNREFUSED ENOTSOCK);",
  "my ($p, $mode) = @ARGV;",
  `if (-e $p and not -S _) { print STDERR "camctl-bridge: not a socket\\n"; exit ${BRIDGE_EXIT.notSocket} }`,
  "my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $p);",
  "unless ($s) { my $e = $^E + 0; print STDERR \"camctl-bridge: \", $^E, \"\\n\";",
  ` exit($e == ENOENT() ? ${BRIDGE_EXIT.missing} : ($e == EACCES() or $e == EPERM()) ? ${BRIDGE_EXIT.permission}`,
  ` : $e == ECONNREFUSED() ? ${BRIDGE_EXIT.refused} : $e == ENOTSOCK() ? ${BRIDGE_EXIT.notSocket} : ${BRIDGE_EXIT.other}) }`,
  `print STDERR "${BRIDGE_READY}\\n";`,
  'exit 0 if defined $mode and $mode eq "probe";',
  "binmode STDIN; binmode STDOUT; my $sel = IO::Select->new(\\*STDIN, $s);",
  "sub put { my ($fh, $b) = @_; while (length $b) { my $n = syswrite($fh, $b); exit 0 unless $n; substr($b, 0, $n, q()) } }",
  "while (my @r = $sel->can_read) { for my $fh (@r) { my $n = sysread($fh, my $b, 65536);",
  " if ($fh == $s) { exit 0 unless $n; put(\\*STDOUT, $b) }",
  // camctl closing its side means it is done (or gone): end the admin session at once.
  " elsif ($n) { put($s, $b) } else { exit 0 } } }",
].join(" ");

/** Quotes a word for the remote login shell; only for words without ' and ! (checked). */
function quoteWord(word: string): string {
  if (/['!\n\r\0]/.test(word)) throw new Error(`cannot quote ${JSON.stringify(word)} for a remote shell`);
  return `'${word}'`;
}

export interface BridgeCommandOptions {
  remoteSocket: string;
  /** Run the bridge as this user through `sudo -n` (the sudo route); undefined = as the login user. */
  sudoUser: string | undefined;
  probe?: boolean;
}

/** The bridge as argv words: perl -e <bridge> -- <socket> [probe] (the container route runs them through `<engine> exec -i`). */
export function bridgeWords(remoteSocket: string, probe = false): string[] {
  const words = ["perl", "-e", BRIDGE_PERL, "--", remoteSocket];
  if (probe) words.push("probe");
  return words;
}

/** Words as one command line for the remote login shell (ssh sends a string); each single-quoted. */
export function remoteCommandLine(words: readonly string[]): string {
  return words.map(quoteWord).join(" ");
}

/** The remote command line (one string, as ssh sends it to the login shell). */
export function bridgeCommand(o: BridgeCommandOptions): string {
  const words = bridgeWords(o.remoteSocket, o.probe);
  // -n: never ask for a password (there is no terminal to ask on); a missing NOPASSWD rule fails at once.
  const prefix = o.sudoUser === undefined ? [] : ["sudo", "-n", "-u", o.sudoUser, "--"];
  return remoteCommandLine([...prefix, ...words]);
}

/** The bridge script itself, for tests that run it locally. */
export const bridgeScriptForTests = BRIDGE_PERL;
