#!/usr/bin/env bash
# Checks by hand (root, Debian 12, network; a few minutes) that the test set-up installs leave no
# service running, listening or enabled: test/sandbox/install-prosody.sh and
# test/sshd/install-openssh.sh run on a throw-away copy of this machine's root (an overlay on
# tmpfs, in private mount and PID namespaces) from which prosody, prosody-modules,
# lua-dbi-sqlite3 and openssh-server were purged first. Nothing reaches the real root; every
# process started inside ends with the PID namespace. Not part of `npm test` (it downloads).
#
#   sudo bash test/check-setup-services.sh
#
# Passes (exit 0) when: no enablement link (systemd *.wants/ aliases, SysV S links) was added,
# systemctl calls ssh.service, ssh.socket and prosody.service disabled, no policy-rc.d of ours is
# left, no sshd or prosody runs, nothing listens on 22/5222/5269, and a reinstall of each
# package (an upgrade's path) leaves them disabled.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" != --inside ]; then
  [ "$(id -u)" = 0 ] || { echo "check-setup-services: run as root" >&2; exit 2; }
  exec unshare -m -p -f --mount-proc bash "$0" --inside
fi

if [ "${2:-}" != --chroot ]; then
  base=$(mktemp -d /tmp/camctl-setup-check.XXXXXX)
  mkdir -p "$base/low" "$base/t" "$base/root"
  mount --make-rprivate /
  mount --bind / "$base/low"
  mount -t tmpfs -o size=3g tmpfs "$base/t"
  mkdir -p "$base/t/up" "$base/t/work"
  mount -t overlay overlay -o "lowerdir=$base/low,upperdir=$base/t/up,workdir=$base/t/work" "$base/root"
  mount --rbind /dev "$base/root/dev"
  mount -t proc proc "$base/root/proc"
  mount -t tmpfs tmpfs "$base/root/run"
  mount -t tmpfs tmpfs "$base/root/tmp"
  status=0
  chroot "$base/root" bash "$here/test/check-setup-services.sh" --inside --chroot || status=$?
  umount -R "$base/root" "$base/t" "$base/low" 2>/dev/null || true
  rmdir "$base/root" "$base/t" "$base/low" "$base" 2>/dev/null || true
  exit $status
fi

# In the throw-away root from here on.
links() { { find /etc/systemd/system -type l -printf '%p -> %l\n'; ls -1d /etc/rc[S0-6].d/S*; } 2>/dev/null | sort; }
failed=0
bad() { echo "FAIL: $*"; failed=1; }

DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq openssh-server prosody prosody-modules lua-dbi-sqlite3 >/dev/null 2>&1
# Without a policy-rc.d of the machine's own (Docker images have one), the scripts' own is what
# keeps services from starting.
rm -f /usr/sbin/policy-rc.d
links >/tmp/links-before

bash "$here/test/sandbox/install-prosody.sh"
bash "$here/test/sshd/install-openssh.sh"

added=$(comm -13 /tmp/links-before <(links))
[ -z "$added" ] || bad "enablement links added by the install: $added"
for unit in ssh.service ssh.socket prosody.service; do
  state=$(systemctl is-enabled "$unit" 2>/dev/null || true)
  [ "$state" = disabled ] || bad "$unit is $state, not disabled"
done
[ ! -e /usr/sbin/policy-rc.d ] || bad "a policy-rc.d was left behind"
procs() { ps -eo comm= | grep -E '^(sshd|prosody|lua5\.[0-9])$' || true; }
listening() { ss -ltnH 2>/dev/null | awk '{print $4}' | grep -E ':(22|5222|5269)$' || true; }
[ -z "$(procs)" ] || bad "running: $(procs | tr '\n' ' ')"
[ -z "$(listening)" ] || bad "listening: $(listening | tr '\n' ' ')"

# An upgrade's path: the maintainer scripts run again and must keep what the set-up disabled.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall openssh-server prosody >/dev/null 2>&1
for unit in ssh.service prosody.service; do
  state=$(systemctl is-enabled "$unit" 2>/dev/null || true)
  [ "$state" = disabled ] || bad "after a reinstall, $unit is $state"
done
added=$(comm -13 /tmp/links-before <(links))
[ -z "$added" ] || bad "enablement links after a reinstall: $added"
sleep 1
[ -z "$(procs)" ] || bad "running after a reinstall: $(procs | tr '\n' ' ')"
[ -z "$(listening)" ] || bad "listening after a reinstall: $(listening | tr '\n' ' ')"

[ "$failed" = 0 ] && echo "check-setup-services: ok: nothing enabled, started or listening"
exit $failed
