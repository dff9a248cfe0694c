#!/usr/bin/env bash
# Installs Debian's OpenSSH server (sshd) and client for the SSH-link tests when the machine lacks
# them, and sudo for the test of the sudo route. Idempotent: does nothing when they are there. The package's own
# daemon is never started: the tests run their own sshd on a free loopback port.
set -euo pipefail

have_openssh() {
  [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 &&
    command -v sudo >/dev/null 2>&1
}

if have_openssh; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "camctl sshd tests: openssh-server is not installed and this is not root, so it cannot be installed here." >&2
  echo "Install it as root (apt-get install openssh-server openssh-client); the SSH tests are skipped until then." >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "camctl sshd tests: automatic install needs Debian with apt; install openssh-server by hand." >&2
  exit 1
fi

# Other third-party lists may be unreachable here; their failure must not stop us.
apt-get update -qq || echo "camctl sshd tests: apt-get update reported errors; trying the install anyway." >&2

# Where an init system exists the package would start sshd on port 22; forbid service starts
# during the install so nothing listens that the tests did not start themselves.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod 755 "$policy"; created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT

DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
  openssh-server openssh-client sudo >/dev/null

have_openssh || { echo "camctl sshd tests: the install finished but sshd is still not available." >&2; exit 1; }
echo "camctl sshd tests: installed openssh-server $(dpkg-query -W -f='${Version}' openssh-server)" >&2
