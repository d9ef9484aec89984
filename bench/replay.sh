#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Journal replay after a crash: how long until the image is usable again.
#
# Builds one crash image (kernel ext4 on a loop device, data=journal so the
# log fills with data blocks, EXT4_IOC_SHUTDOWN with LOGFLUSH, the image
# copied before the unmount as a crash would leave it), then replays copies
# of it, interleaved, with:
#   e2fsck   e2fsck -y -E journal_only IMG
#   kernel   mount -o loop IMG + umount
#   uext4    uext4 IMG MNT + umount (replay, orphans, mount, unmount)
# and prints the median wall time of each, and the blocks replayed.
#
#   bench/replay.sh [--rounds N] [--journal-mib M] [--size-mib S]
# Needs root, a loop device, /dev/fuse. Build first (scripts/build.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
uext4=${UEXT4:-$top/build/daemon/uext4}
shutdown=${UEXT4_TEST_SHUTDOWN:-$top/build/tests/integration/uext4-test-shutdown}
rounds=5 jmib=256 smib=2048
while [ $# -gt 0 ]; do
	case $1 in
	--rounds) rounds=$2; shift 2 ;;
	--journal-mib) jmib=$2; shift 2 ;;
	--size-mib) smib=$2; shift 2 ;;
	*) echo "usage: $0 [--rounds N] [--journal-mib M] [--size-mib S]" >&2; exit 1 ;;
	esac
done
[ -x "$uext4" ] && [ -x "$shutdown" ] || { echo "build uext4 first: scripts/build.sh" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/var/tmp}/uext4-replay.XXXXXX")
cleanup() {
	for m in "$work"/km "$work"/mnt; do
		mountpoint -q "$m" 2>/dev/null && umount -l "$m"
	done
	rm -rf "$work"
}
trap cleanup EXIT
mkdir "$work/km" "$work/mnt"

crash="$work/crash.img"
truncate -s "${smib}M" "$crash"
mkfs.ext4 -q -F -J size="$jmib" "$crash"
mount -o loop,data=journal "$crash" "$work/km"
# Fill about 3/4 of the log with data blocks in a few big transactions,
# plus metadata (many small files), without a checkpoint in between.
dd if=/dev/urandom of="$work/km/big" bs=1M count=$((jmib / 2)) status=none
mkdir "$work/km/small"
for i in $(seq 1 2000); do echo "$i" > "$work/km/small/f$i"; done
"$shutdown" "$work/km" logflush
cp --sparse=always "$crash" "$work/crash-copy.img"
umount "$work/km"
mv "$work/crash-copy.img" "$crash"
dumpe2fs -h "$crash" 2>/dev/null | grep -q needs_recovery ||
	{ echo "the crash image does not need recovery" >&2; exit 1; }
cp --sparse=always "$crash" "$work/probe.img"
replayed=$("$uext4" "$work/probe.img" "$work/mnt" 2>&1 | sed -n 's/.*replayed \([0-9]*\) blocks.*/\1/p')
umount "$work/mnt"
while pgrep -f -- "$uext4 $work/probe.img" >/dev/null; do sleep 0.05; done
rm -f "$work/probe.img"

now() { date +%s.%N; }
run_e2fsck() { e2fsck -y -E journal_only "$1" >/dev/null 2>&1 || [ $? -le 1 ]; }
run_kernel() { mount -o loop "$1" "$work/mnt" && umount "$work/mnt"; }
run_uext4() {
	"$uext4" "$1" "$work/mnt" 2>/dev/null
	umount "$work/mnt"
	while pgrep -f -- "$uext4 $1" >/dev/null; do sleep 0.05; done
}

declare -A times
for r in $(seq 1 "$rounds"); do
	for tool in e2fsck kernel uext4; do
		img="$work/$tool.img"
		cp --sparse=always "$crash" "$img"
		sync; echo 3 > /proc/sys/vm/drop_caches
		t0=$(now)
		"run_$tool" "$img"
		t1=$(now)
		times[$tool]+="$(echo "$t1 - $t0" | bc) "
		dumpe2fs -h "$img" 2>/dev/null | grep -q needs_recovery &&
			{ echo "$tool left needs_recovery set" >&2; exit 1; }
		rm -f "$img"
	done
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "crash image: ${smib} MiB, journal ${jmib} MiB, blocks replayed: ${replayed:-?} ($(( ${replayed:-0} * 4 / 1024 )) MiB)"
printf '%-8s %10s   %s\n' tool "median s" "all runs (s)"
for tool in e2fsck kernel uext4; do
	printf '%-8s %10.3f   %s\n' "$tool" "$(echo "${times[$tool]}" | median)" "${times[$tool]}"
done
