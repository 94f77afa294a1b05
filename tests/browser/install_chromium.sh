#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver for tests/browser (no browser download of a test tool's own:
# the machine reaches Debian's packages, not a browser vendor's CDN). Idempotent.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing Debian's chromium and chromium-driver for the browser test"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
