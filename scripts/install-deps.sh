#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what building and testing uext4 needs on Debian 12 (run as root).
# Only packages that are missing are installed; apt-get update runs once, and
# only when something is missing.
set -euo pipefail

PKGS=(
	build-essential meson ninja-build pkg-config
	libfuse3-dev fuse3 libext2fs-dev e2fsprogs liburing-dev libcmocka-dev
	fio fuse2fs attr acl util-linux python3 procps kmod
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: missing packages: ${missing[*]} (run as root to install them)" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# FUSE needs the device node and (for allow_other as a user) fuse.conf.
if [ ! -c /dev/fuse ] && [ "$(id -u)" = 0 ]; then
	modprobe fuse 2>/dev/null || true
fi
exit 0
