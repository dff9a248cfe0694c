#!/usr/bin/env bash
# Installs Debian's OpenSSH server (sshd) and client for the SSH-link tests when the machine lacks
# them, and sudo for the test of the sudo route. Idempotent: does nothing when they are there. The
# package's own daemon is never started, and the ssh service it brings is left disabled (nothing
# listens on port 22, now or after a reboot): the tests run their own sshd on a free loopback port.
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
apt-get update -qq -o DPkg::Lock::Timeout=600 || echo "camctl sshd tests: apt-get update reported errors; trying the install anyway." >&2

# The package would start sshd on port 22 now and enable it for every boot; apt_install_quietly
# forbids the start and disables what this install enabled (test/apt-no-services.sh).
# shellcheck source=../apt-no-services.sh
. "$(dirname "$0")/../apt-no-services.sh"
CAMCTL_INSTALL_TAG="camctl sshd tests" apt_install_quietly --no-install-recommends -- openssh-server openssh-client sudo

have_openssh || { echo "camctl sshd tests: the install finished but sshd is still not available." >&2; exit 1; }
echo "camctl sshd tests: installed openssh-server $(dpkg-query -W -f='${Version}' openssh-server)" >&2
