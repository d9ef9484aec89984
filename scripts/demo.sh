#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what is missing, build uext4 and mount an ext4 image with it.
# usage: scripts/demo.sh [IMAGE [MOUNTPOINT]]
# Without IMAGE, a 1 GiB demo image is created with mkfs.ext4.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

scripts/install-deps.sh
scripts/build.sh build >/dev/null

img=${1:-/var/tmp/uext4-demo.img}
mnt=${2:-/mnt/uext4-demo}
if [ ! -e "$img" ]; then
	echo "creating demo image $img (1 GiB ext4)"
	truncate -s 1G "$img"
	mkfs.ext4 -q -L uext4-demo "$img"
fi
mkdir -p "$mnt"
if mountpoint -q "$mnt"; then
	echo "$mnt is already a mount point; unmount it first: umount $mnt" >&2
	exit 1
fi
"$top/build/daemon/uext4" "$img" "$mnt"
echo "uext4: $img is mounted on $mnt"
echo "unmount with: umount $mnt   (or: fusermount3 -u $mnt)"
