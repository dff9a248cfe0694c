#!/usr/bin/env bash
# Installs Debian's ansible-core (2.14 on bookworm) for the Ansible collection's tests
# (test/integration/ansible.test.ts) when the machine lacks it. Idempotent: does nothing when
# ansible-playbook is there.
set -euo pipefail

have_ansible() {
  command -v ansible-playbook >/dev/null 2>&1 && command -v ansible-doc >/dev/null 2>&1
}

if have_ansible; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "camctl ansible tests: ansible-core is not installed and this is not root, so it cannot be installed here." >&2
  echo "Install it as root (apt-get install ansible-core); the Ansible tests are skipped until then." >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "camctl ansible tests: automatic install needs Debian with apt; install ansible-core by hand." >&2
  exit 1
fi

# Other third-party lists may be unreachable here; their failure must not stop us.
apt-get -o DPkg::Lock::Timeout=600 update -qq ||
  echo "camctl ansible tests: apt-get update reported errors; trying the install anyway." >&2

# ansible-core ships no service; apt_install_quietly makes sure nothing it pulls in starts or
# stays enabled either (test/apt-no-services.sh). Recommends would pull in the full `ansible`
# collection bundle (hundreds of MB); the modules need only ansible-core.
# shellcheck source=../apt-no-services.sh
. "$(dirname "$0")/../apt-no-services.sh"
CAMCTL_INSTALL_TAG="camctl ansible tests" apt_install_quietly --no-install-recommends -- ansible-core

have_ansible || { echo "camctl ansible tests: the install finished but ansible-playbook is still not available." >&2; exit 1; }
echo "camctl ansible tests: installed ansible-core $(dpkg-query -W -f='${Version}' ansible-core)" >&2
