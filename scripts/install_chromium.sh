#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests (tests/plugins/). No browser download:
# Playwright drives /usr/bin/chromium from Debian's packages. CI runs as root; elsewhere
# the script uses sudo when it can, and otherwise says what is missing.
set -euo pipefail
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
SUDO=
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install_chromium: $CHROMIUM is missing and this user cannot apt-get install it" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
"$CHROMIUM" --version
