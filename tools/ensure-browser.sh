#!/bin/sh
# Make sure a headless Chromium exists for the test that opens report/report.html in a real
# browser (playwright, in .venv, drives it; its own browser download cannot be had offline, so
# it is pointed at Debian's chromium). Installed when we are root on Debian; otherwise we stop
# with the one command to run. $SCRATCHNET_CHROMIUM may name another chromium binary.
set -eu

found() {
  [ -n "${SCRATCHNET_CHROMIUM:-}" ] && [ -x "$SCRATCHNET_CHROMIUM" ] && return 0
  command -v chromium >/dev/null 2>&1
}

found && exit 0
command="apt-get update && apt-get install -y --no-install-recommends chromium"
if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-browser: installing Debian's chromium (about 100 MB, under a minute)" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } >&2; then
    echo "ensure-browser: error: installing chromium failed; run: $command" >&2
    exit 1
  fi
  found && exit 0
  echo "ensure-browser: error: no chromium after the install" >&2
  exit 1
fi
echo "ensure-browser: error: the browser test needs chromium; install it with:" >&2
if [ -f /etc/debian_version ]; then
  if [ "$(id -u)" = 0 ]; then echo "  $command" >&2; else echo "  sudo sh -c '$command'" >&2; fi
else
  echo "  (not Debian) a Chromium build, named by SCRATCHNET_CHROMIUM=/path/to/chromium" >&2
fi
exit 1
