#!/usr/bin/env bash
# Installs Prosody 13 and prosody-modules from Debian bookworm-backports when the
# machine lacks them, and LuaDBI's SQLite3 driver (lua-dbi-sqlite3, bookworm) for the
# sandbox's storage = "sqlite". Idempotent: does nothing when all are there. Prosody's own daemon is
# never started, and the prosody service the package brings is left disabled (nothing listens on
# 5222/5269, now or after a reboot): the tests and the demo start their own on free loopback ports.
set -euo pipefail

have_prosody_13() {
  command -v prosodyctl >/dev/null 2>&1 || return 1
  local v
  v=$(dpkg-query -W -f='${Version}' prosody 2>/dev/null || true)
  [ -n "$v" ] || return 1
  dpkg --compare-versions "$v" ge 13 || return 1
  [ -d /usr/lib/prosody/modules/mod_sasl2 ] || return 1
}

have_sqlite_driver() {
  dpkg-query -W -f='${Status}' lua-dbi-sqlite3 2>/dev/null | grep -q 'install ok installed'
}

if have_prosody_13 && have_sqlite_driver; then
  exit 0
fi

if have_prosody_13; then
  # Only the SQLite driver is missing: the tests that need it skip without it.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && grep -q bookworm /etc/os-release 2>/dev/null; then
    . "$(dirname "$0")/../apt-no-services.sh"
    apt_install_quietly -- lua-dbi-sqlite3 2>/dev/null ||
      { apt-get update -qq -o DPkg::Lock::Timeout=600 || true; apt_install_quietly -- lua-dbi-sqlite3; } ||
      echo "camctl sandbox: could not install lua-dbi-sqlite3; the SQLite storage tests will be skipped." >&2
  else
    echo "camctl sandbox: lua-dbi-sqlite3 is not installed; the SQLite storage tests will be skipped (install it as root)." >&2
  fi
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "camctl sandbox: Prosody 13 is not installed and this is not root, so it cannot be installed here." >&2
  echo "Install it as root: prosody and prosody-modules from Debian bookworm-backports (see README)." >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1 || ! grep -q bookworm /etc/os-release 2>/dev/null; then
  echo "camctl sandbox: automatic install needs Debian 12 (bookworm) with apt; install Prosody 13 by hand." >&2
  exit 1
fi

list=/etc/apt/sources.list.d/camctl-bookworm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  src=/etc/apt/sources.list.d/debian.sources
  uris=$(awk '/^URIs:/ && /debian\/?$/ {print $2; exit}' "$src" 2>/dev/null || true)
  [ -n "$uris" ] || uris=http://deb.debian.org/debian
  signed=$(awk '/^Signed-By:/ {print $2; exit}' "$src" 2>/dev/null || true)
  [ -n "$signed" ] || signed=/usr/share/keyrings/debian-archive-keyring.gpg
  cat >"$list" <<SRC
Types: deb
URIs: $uris
Suites: bookworm-backports
Components: main
Signed-By: $signed
SRC
fi

# Other third-party lists may be unreachable here; their failure must not stop us.
apt-get update -qq -o DPkg::Lock::Timeout=600 || echo "camctl sandbox: apt-get update reported errors; trying the install anyway." >&2

# The Debian package would start its own daemon now and enable it for every boot; keep the default
# ports for nobody: apt_install_quietly forbids the start and disables what this install enabled
# (test/apt-no-services.sh).
# shellcheck source=../apt-no-services.sh
. "$(dirname "$0")/../apt-no-services.sh"
CAMCTL_INSTALL_TAG="camctl sandbox" apt_install_quietly -t bookworm-backports -- prosody prosody-modules
CAMCTL_INSTALL_TAG="camctl sandbox" apt_install_quietly -- lua-dbi-sqlite3 ||
  echo "camctl sandbox: could not install lua-dbi-sqlite3; the SQLite storage tests will be skipped." >&2

have_prosody_13 || { echo "camctl sandbox: the install finished but Prosody 13 is still not available." >&2; exit 1; }
echo "camctl sandbox: installed prosody $(dpkg-query -W -f='${Version}' prosody) and prosody-modules $(dpkg-query -W -f='${Version}' prosody-modules)" >&2
have_sqlite_driver && echo "camctl sandbox: installed lua-dbi-sqlite3 $(dpkg-query -W -f='${Version}' lua-dbi-sqlite3)" >&2 || true
