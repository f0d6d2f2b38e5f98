#!/usr/bin/env bash
# promtool (Prometheus' rule checker and rule unit tester) for the policy tests
# (tests/replica_ledger/policies/test_rules_promtool.py). Taken from Debian's `prometheus`
# package, pinned, without installing it: `apt-get download` fetches the .deb (no root
# needed) and `dpkg-deb -x` unpacks it; only usr/bin/promtool is kept. No service runs.
set -euo pipefail
VERSION=${PROMTOOL_DEBIAN_VERSION:-2.42.0+ds-5+deb12u1}
DEST=${PROMTOOL_DIR:-.venv/tools}
BIN="$DEST/bin/promtool"
STAMP="$DEST/bin/promtool.version"
if [ -x "$BIN" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$VERSION" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
  echo "install_promtool: apt-get and dpkg-deb are needed to take promtool from Debian's prometheus package" \
    "($VERSION); on another system put a promtool 2.42+ at $BIN" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
download() { (cd "$work" && apt-get download -qq "prometheus=$VERSION" >/dev/null 2>"$work/apt.err"); }
# A fresh machine may have no package lists yet: refresh them once when allowed (root or sudo).
if ! download && { [ "$(id -u)" = 0 ] || { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }; }; then
  SUDO=$([ "$(id -u)" = 0 ] || echo "sudo -n")
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq || true
fi
if [ ! -e "$work"/prometheus_*.deb ] && ! download; then
  echo "install_promtool: apt-get download prometheus=$VERSION failed: $(tail -n 1 "$work/apt.err")" >&2
  echo "install_promtool: the package lists may be stale or miss bookworm; as root: apt-get update" >&2
  exit 1
fi
dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
mkdir -p "$DEST/bin"
install -m 0755 "$work/root/usr/bin/promtool" "$BIN"
echo "$VERSION" >"$STAMP"
"$BIN" --version 2>&1 | head -n 1
