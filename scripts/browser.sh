#!/usr/bin/env bash
# Debian's Chromium and a Chinese font for the browser test of the assessment page (installed when absent).
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v chromium >/dev/null || missing+=(chromium)
# grep reads all of fc-list's output: with -q it would stop early and pipefail would see fc-list's SIGPIPE.
fc-list 2>/dev/null | grep -iE 'wqy|noto sans cjk|source han' >/dev/null || missing+=(fonts-wqy-zenhei)
if [ ${#missing[@]} -gt 0 ]; then
  echo "browser: installing ${missing[*]}" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  }
fi
