#!/usr/bin/env bash
# Browser test of the API explorer: `scripts/docs-browser.sh [BASE_URL]` checks with headless
# Chromium that /docs renders every operation of /openapi.json (scripts/docs_browser.py says
# what exactly). Without BASE_URL it starts the service itself, on a fresh embedded store. Installs what it lacks first: Debian's chromium
# and chromium-driver, and Selenium, pinned, in a venv under target/ (Debian's driver matches
# Debian's browser, so Selenium never has to download one).
set -euo pipefail
[ $# -le 1 ] || { echo "usage: $0 [BASE_URL]" >&2; exit 2; }
cd "$(dirname "$0")/.."

SELENIUM_VERSION=4.51.0
dir="$PWD/target/test-services"
venv="$dir/docs-venv"
mkdir -p "$dir"

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

# apt-get's own output only matters when it fails: keep it in a log, show it then.
apt_install() {
  local log="$dir/docs-apt.log"
  echo "== installing $* (apt-get)"
  if ! { $sudo apt-get update -qq &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "error: apt-get install $* failed" >&2
    exit 1
  fi
}

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  apt_install chromium chromium-driver
fi

stamp="$venv/.installed-selenium-$SELENIUM_VERSION"
if [ ! -f "$stamp" ]; then
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install python3-venv
  fi
  echo "== installing selenium $SELENIUM_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "selenium==$SELENIUM_VERSION"
  touch "$stamp"
fi

if [ $# -eq 1 ]; then
  exec "$venv/bin/python" scripts/docs_browser.py "$1"
fi
# shellcheck source=scripts/service.sh
source scripts/service.sh
start_service "$PWD/target/docs-browser" RUST_LOG=warn LOG_FORMAT=json
"$venv/bin/python" scripts/docs_browser.py "$SERVICE_URL"
service_stayed_healthy
