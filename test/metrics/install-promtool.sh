#!/usr/bin/env bash
# Installs the two real parsers the metrics tests check `-o openmetrics` with, when the machine
# lacks them. Idempotent: does nothing when both are there.
#   - promtool (Debian's prometheus package): `promtool check metrics` parses the classic Prometheus
#     text format as node-exporter's textfile collector does, and lints it. Only the binary is
#     taken (apt-get download + dpkg-deb -x into a cache directory outside the repository):
#     installing the package would add a prometheus user and an enabled, listening service.
#   - python3-prometheus-client (Debian): its prometheus_client.openmetrics.parser is a strict
#     OpenMetrics parser. A library, no service.
# The tests find promtool in $CAMCTL_PROMTOOL_DIR (default /var/cache/camctl-test/promtool),
# or on PATH.
set -euo pipefail

dir=${CAMCTL_PROMTOOL_DIR:-/var/cache/camctl-test/promtool}
python=/usr/bin/python3

have_promtool() {
  [ -x "$dir/promtool" ] && "$dir/promtool" --version >/dev/null 2>&1 && return 0
  command -v promtool >/dev/null 2>&1
}
have_parser() {
  [ -x "$python" ] && "$python" -c 'import prometheus_client.openmetrics.parser' >/dev/null 2>&1
}

if have_promtool && have_parser; then
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "camctl metrics tests: promtool or python3-prometheus-client is missing and this is not root, so they cannot be installed here." >&2
  echo "Run test/metrics/install-promtool.sh as root; the metrics tests are skipped until then." >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "camctl metrics tests: automatic install needs Debian with apt; the metrics tests are skipped." >&2
  exit 1
fi

apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }
updated=0
update_once() {
  [ "$updated" = 1 ] && return 0
  updated=1
  # Other third-party lists may be unreachable here; their failure must not stop us.
  apt update -qq || echo "camctl metrics tests: apt-get update reported errors; trying anyway." >&2
}

if ! have_parser; then
  apt install -y -qq --no-install-recommends python3-prometheus-client >/dev/null 2>&1 ||
    { update_once; apt install -y -qq --no-install-recommends python3-prometheus-client >/dev/null; }
fi

if ! have_promtool; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # apt-get download writes into the current directory; as root it warns that the _apt user
  # cannot write there, which is harmless.
  (cd "$work" && apt download prometheus >/dev/null 2>&1) ||
    { update_once; (cd "$work" && apt download prometheus >/dev/null 2>&1); }
  deb=$(ls "$work"/prometheus_*.deb)
  dpkg-deb -x "$deb" "$work/root"
  mkdir -p "$dir"
  install -m 755 "$work/root/usr/bin/promtool" "$dir/promtool.new"
  mv -f "$dir/promtool.new" "$dir/promtool"
  dpkg-deb -f "$deb" Version >"$dir/VERSION"
fi

have_promtool && have_parser ||
  { echo "camctl metrics tests: the install finished but promtool or the OpenMetrics parser is still not available." >&2; exit 1; }
echo "camctl metrics tests: promtool $(cat "$dir/VERSION" 2>/dev/null || echo '(on PATH)'), python3-prometheus-client $(dpkg-query -W -f='${Version}' python3-prometheus-client)" >&2
