#!/usr/bin/env bash
# Makes sure a headless browser is here for the report's browser test and the soak's screenshot:
# Debian's `chromium` package (apt-get, as root). Prints the browser's path; exits 0 when one is there.
# Order: $KVX_CHROMIUM, then chromium / chromium-browser / google-chrome on PATH, else apt-get install chromium.
set -euo pipefail
find_browser() {
  if [[ -n "${KVX_CHROMIUM:-}" && -x "${KVX_CHROMIUM}" ]]; then echo "$KVX_CHROMIUM"; return 0; fi
  local b
  for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return 0; fi
  done
  return 1
}
if find_browser; then exit 0; fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "kvx: no headless browser found; install Debian's chromium ('sudo apt-get install chromium')" >&2
  echo "kvx: or point KVX_CHROMIUM at a Chromium/Chrome binary" >&2
  exit 1
fi
echo "kvx: installing Debian's chromium for the report's browser test (apt-get) ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium fonts-liberation >&2
find_browser || { echo "kvx: apt-get installed chromium but it is not on PATH" >&2; exit 1; }
