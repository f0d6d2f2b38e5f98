#!/usr/bin/env bash
# What `make test`, `make demo-gcp` and `make deploy-rehearsal` need from the machine, checked
# before anything is installed or started. Each missing one is named with the command that
# installs it (Debian 12 package names); the exit status is the number missing (capped).
#
#   bash scripts/check_prereqs.sh test|demo-gcp|demo [PYTHON] [BQ_PYTHON]
#
# PYTHON and BQ_PYTHON are the Makefile's (the interpreters the venvs are built from).
set -uo pipefail
TARGET=${1:-test}
PYTHON=${2:-$(command -v python3.11 || command -v python3 || true)}
# As the Makefile looks for it: python3.13 on PATH (a pyenv shim must answer), or pyenv's own.
BQ_PYTHON=${3:-$(for p in $(command -v python3.13) "$HOME"/.pyenv/versions/3.13*/bin/python3.13; do
  "$p" -c '' 2>/dev/null && { echo "$p"; break; }; done)}
missing=()

need() {  # need WHAT INSTALL-COMMAND
  missing+=("$1"$'\n'"      install: $2")
}

python_is() {  # python_is INTERPRETER MAJOR.MINOR
  [ -n "$1" ] && "$1" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$2'.split('.'))))" 2>/dev/null
}

# Python 3.11 with venv and pip: every venv of the Makefile (.venv/boot, af2, af3) is made from it.
if ! python_is "$PYTHON" 3.11; then
  need "Python 3.11 (found: ${PYTHON:-none}${PYTHON:+ $("$PYTHON" -V 2>/dev/null)})" \
    "sudo apt-get install -y python3.11 python3.11-venv   (then: make PYTHON=/usr/bin/python3.11 ...)"
elif ! "$PYTHON" -c "import venv, ensurepip" 2>/dev/null; then
  need "the venv module of $PYTHON (ensurepip)" "sudo apt-get install -y python3.11-venv"
fi

case "$TARGET" in
  test | demo-gcp | deploy-rehearsal)
    # The BigQuery emulator (local-bigquery) runs in its own Python 3.13 venv (.venv/bq).
    # Debian 12 has no python3.13 package.
    if ! python_is "$BQ_PYTHON" 3.13; then
      need "Python 3.13, for the BigQuery emulator (.venv/bq)" \
        "pyenv install 3.13   (or any python3.13 on PATH; then: make BQ_PYTHON=/path/to/python3.13 ...)"
    fi
    # The Firestore emulator: gcloud's cloud-firestore-emulator component, a Java 11+ program.
    java_major=$(java -version 2>&1 | sed -nE '1s/.*version "([0-9]+)(\.[0-9]+)*.*/\1/p')
    [ "${java_major:-0}" = 1 ] && java_major=$(java -version 2>&1 | sed -nE '1s/.*version "1\.([0-9]+).*/\1/p')
    if [ "${java_major:-0}" -lt 11 ]; then
      need "Java 11 or later, for the Firestore emulator (found: $(java -version 2>&1 | head -1 || echo none))" \
        "sudo apt-get install -y openjdk-17-jre-headless"
    fi
    if ! command -v gcloud >/dev/null; then
      need "the Google Cloud CLI (gcloud), for the Firestore emulator" \
        "sudo apt-get install -y google-cloud-cli google-cloud-cli-firestore-emulator   (Google's apt repository: https://cloud.google.com/sdk/docs/install#deb)"
    else
      sdk_root=$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null)
      if [ ! -d "$sdk_root/platform/cloud-firestore-emulator" ]; then
        need "gcloud's Firestore emulator component (not under ${sdk_root:-the SDK root})" \
          "sudo apt-get install -y google-cloud-cli-firestore-emulator   (or: gcloud components install cloud-firestore-emulator)"
      fi
    fi
    ;;
esac

if [ "$TARGET" = test ]; then
  # The dbt docs lineage test drives Debian's Chromium (scripts/install_chromium.sh installs it
  # when it can: as root, or with password-less sudo).
  if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
    if [ "$(id -u)" != 0 ] && ! { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }; then
      need "Chromium (${CHROMIUM:-/usr/bin/chromium}), for the dbt docs browser test" \
        "sudo apt-get install -y --no-install-recommends chromium fonts-liberation"
    else
      echo "check_prereqs: Chromium is missing; scripts/install_chromium.sh installs it (apt-get install chromium)"
    fi
  fi
  # The policy rule tests run promtool, unpacked from Debian's prometheus package by
  # scripts/install_promtool.sh (apt-get download: no root needed, but apt-get and dpkg-deb).
  if [ ! -x "$(dirname "$0")/../.venv/tools/bin/promtool" ] && ! { command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null; }; then
    need "promtool (.venv/tools/bin/promtool), for the policy rule tests" \
      "a Debian system's apt-get and dpkg-deb (scripts/install_promtool.sh), or a promtool 2.42+ copied to .venv/tools/bin/"
  fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "make $TARGET needs, and this machine lacks:" >&2
  for item in "${missing[@]}"; do
    echo "  - $item" >&2
  done
  exit $((${#missing[@]} > 100 ? 100 : ${#missing[@]}))
fi
