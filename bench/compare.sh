#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Side-by-side benchmark: kernel ext4 (loop), fuse2fs and uext4, interleaved,
# with the shared harness. Extra arguments go to compare (e.g. --rounds 3,
# --quick). Needs root, fio, fuse2fs. Build first (scripts/build.sh).
#   bench/compare.sh --rounds 3 [-- extra uext4 options as -o ...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
shared=${UEXT4_SHARED:-$top/../shared}
uext4=${UEXT4:-$top/build/daemon/uext4}
opts=${UEXT4_BENCH_OPTS:-}
[ -x "$uext4" ] || { echo "build uext4 first: scripts/build.sh" >&2; exit 1; }
exec "$shared/bench/compare" --name uext4 \
	--mount "$uext4 ${opts:+-o $opts} {img} {mnt}" "$@"
