#!/usr/bin/env bash
# Off-screen pictures need EGL and Mesa's software OpenGL. Most Debian/Ubuntu
# images have them; install them when they are missing and we may.
set -euo pipefail
if ldconfig -p 2>/dev/null | grep -q 'libEGL.so.1' && ldconfig -p 2>/dev/null | grep -q 'libGL.so.1'; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  echo "Installing EGL/OpenGL libraries for off-screen rendering" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libgl1 libgl1-mesa-dri >/dev/null
else
  echo "warning: libEGL/libGL not found; rendering pictures will fail. Install libegl1, libgl1 and libgl1-mesa-dri." >&2
fi
