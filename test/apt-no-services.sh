# Sourced by test/sandbox/install-prosody.sh and test/sshd/install-openssh.sh: install Debian
# packages for the tests without leaving a service running, listening or enabled for the next
# boot. The tests start their own daemons (a sandbox Prosody, an sshd) on free loopback ports.
#
#   apt_install_quietly [apt-get install options...] -- package...
#
# - No service starts during the install: /usr/sbin/policy-rc.d answers 101 ("action forbidden")
#   to invoke-rc.d and deb-systemd-invoke, as Debian's policy-rc.d convention defines; an existing
#   policy-rc.d is left as it is, and ours is removed afterwards.
# - No service is enabled afterwards: each unit and init script of a package that THIS install
#   added (a package that was not installed before) is disabled again (systemctl disable,
#   update-rc.d disable), which Debian's maintainer scripts respect: a later upgrade or
#   reinstall of the package keeps it disabled. A package that was installed before is not touched,
#   whatever its state. `systemctl enable --now <unit>` undoes this for whoever wants the service.
# - Waits for the dpkg lock (others may be installing at the same time).
# It prints what it disabled, one line each, on stderr.

# The systemd units and SysV init scripts a package ships: "unit NAME" and "init NAME" lines.
_camctl_package_services() {
  dpkg-query -L "$1" 2>/dev/null | sed -n \
    -e 's#^/\(usr/\)\{0,1\}lib/systemd/system/\([^/]*\.\(service\|socket\|timer\|path\|target\)\)$#unit \2#p' \
    -e 's#^/etc/init\.d/\([^/]*\)$#init \1#p'
}

# Disables what the packages named ship; `tag` prefixes the lines it prints.
_camctl_disable_services() {
  local tag=$1 pkg kind name
  shift
  for pkg in "$@"; do
    while read -r kind name; do
      case $kind in
        unit)
          # A masked unit (a link to /dev/null, like sudo.service) is not a service to disable.
          [ "$(readlink -f "/lib/systemd/system/$name" 2>/dev/null)" = /dev/null ] && continue
          # Started all the same (an existing policy-rc.d that allows it): stopped.
          if [ -d /run/systemd/system ] && systemctl --quiet is-active "$name" 2>/dev/null; then
            systemctl stop "$name" && echo "$tag: stopped $name (from $pkg), which the install started" >&2
          fi
          # systemctl enables and disables on the file system, with or without a running systemd.
          # The package's state file stays, so its upgrades see the unit disabled and leave it so.
          if command -v systemctl >/dev/null 2>&1 && [ "$(systemctl is-enabled "$name" 2>/dev/null)" = enabled ]; then
            systemctl --quiet disable "$name" 2>/dev/null && echo "$tag: disabled $name (from $pkg), so it does not start at boot" >&2
          fi
          ;;
        init)
          if [ ! -d /run/systemd/system ] && "/etc/init.d/$name" status >/dev/null 2>&1; then
            "/etc/init.d/$name" stop >/dev/null 2>&1 && echo "$tag: stopped $name (from $pkg), which the install started" >&2
          fi
          # SysV start links (S..) in any runlevel: only where the package added some.
          if command -v update-rc.d >/dev/null 2>&1 && ls /etc/rc[S0-6].d/S[0-9][0-9]"$name" >/dev/null 2>&1; then
            update-rc.d "$name" disable >/dev/null 2>&1 && echo "$tag: disabled the init script $name (from $pkg), so it does not start at boot" >&2
          fi
          ;;
      esac
    done < <(_camctl_package_services "$pkg" | sort -r) # units first, then init scripts
  done
}

# Every package installed now, one name a line, sorted.
_camctl_installed_list() {
  dpkg-query -W -f='${db:Status-Status} ${Package}\n' 2>/dev/null | sed -n 's/^installed //p' | sort -u
}

apt_install_quietly() {
  local tag=${CAMCTL_INSTALL_TAG:-camctl} opts=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
  [ "${1:-}" = -- ] && shift
  local before
  before=$(_camctl_installed_list)

  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# camctl test set-up: no service starts during its install.\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
    # Removed however the script ends (an interrupted apt-get included).
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${opts[@]}" "$@" >/dev/null || rc=$?
  if [ "$created_policy" = 1 ]; then rm -f "$policy"; trap - EXIT; fi
  # What this install added, the packages named and the dependencies apt pulled in alike.
  local added
  added=$(comm -13 <(printf '%s\n' "$before") <(_camctl_installed_list))
  # shellcheck disable=SC2086 # one package name a line
  [ -n "$added" ] && _camctl_disable_services "$tag" $added
  return $rc
}
