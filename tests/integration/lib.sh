# SPDX-License-Identifier: MIT
# Shared helpers for integration scripts: source it first.
#
#   . "$(dirname "$0")/lib.sh"
#   require_root
#   img=$(make_image 64M)          # fresh ext4 image in $WORK
#   mount_uext4 "$img" "$WORK/mnt"  # registered for cleanup
#   ...
#   umount_uext4 "$WORK/mnt"        # waits for the daemon to exit
#   fsck_clean "$img"
#
# Every script gets its own work directory ($WORK). On exit, whatever is
# still mounted is unmounted; a hung FUSE connection is aborted through
# fusectl and lazily unmounted; leftover daemons are killed.

set -euo pipefail

: "${UEXT4:?UEXT4 must point at the uext4 binary (run through meson test)}"
UEXT4_SHARED=${UEXT4_SHARED:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)/shared}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "[$(date +%T)] $*"; }

require_root() {
	[ "$(id -u)" = 0 ] || skip "needs root (mounts, loop devices)"
	[ -c /dev/fuse ] || skip "needs /dev/fuse"
}

require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c"
	done
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/uext4-test.XXXXXX")
_MOUNTS=()
_LOOPMOUNTS=()

# fuse_abort MNT - abort the FUSE connection serving MNT (for a hung daemon).
fuse_abort() {
	local mnt=$1 dev minor
	mountpoint -q "$mnt" 2>/dev/null || return 0
	if [ ! -d /sys/fs/fuse/connections ] || [ -z "$(ls -A /sys/fs/fuse/connections 2>/dev/null)" ]; then
		mount -t fusectl none /sys/fs/fuse/connections 2>/dev/null || true
	fi
	dev=$(stat -c %d "$mnt" 2>/dev/null) || return 0
	minor=$((dev & 0xff | (dev >> 12 & 0xfff00)))
	if [ -w "/sys/fs/fuse/connections/$minor/abort" ]; then
		echo 1 > "/sys/fs/fuse/connections/$minor/abort" || true
	fi
}

# daemon_pids IMG - pids of uext4 daemons serving IMG.
daemon_pids() {
	pgrep -f -- "$UEXT4 .*$1" 2>/dev/null || true
}

# wait_daemon_exit IMG [SECONDS] - wait until no daemon serves IMG.
wait_daemon_exit() {
	local img=$1 t=${2:-120} i
	for ((i = 0; i < t * 10; i++)); do
		[ -z "$(daemon_pids "$img")" ] && return 0
		sleep 0.1
	done
	echo "daemon for $img still running after ${t}s" >&2
	return 1
}

_cleanup() {
	local rc=$? m p
	set +e
	for m in "${_MOUNTS[@]}"; do
		if mountpoint -q "$m" 2>/dev/null; then
			timeout 20 umount "$m" 2>/dev/null || {
				fuse_abort "$m"
				umount -l "$m" 2>/dev/null
			}
		fi
	done
	for m in "${_LOOPMOUNTS[@]}"; do
		mountpoint -q "$m" 2>/dev/null && { umount "$m" 2>/dev/null || umount -l "$m"; }
	done
	for p in $(pgrep -f -- "$UEXT4 .*$WORK" 2>/dev/null); do
		kill -KILL "$p" 2>/dev/null
	done
	if [ "$rc" = 0 ] || [ "$rc" = 77 ] || [ -z "${KEEP_WORK:-}" ]; then
		rm -rf "$WORK"
	else
		echo "work directory kept: $WORK" >&2
	fi
	exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# make_image SIZE [mkfs.ext4 options...] - fresh ext4 image; prints its path.
make_image() {
	local size=$1
	shift
	local img
	img=$(mktemp "$WORK/img.XXXXXX")
	truncate -s "$size" "$img"
	mkfs.ext4 -q -F "$@" "$img" >/dev/null
	echo "$img"
}

# mount_uext4 IMG MNT [uext4 args...] - mount and register for cleanup.
mount_uext4() {
	local img=$1 mnt=$2
	shift 2
	mkdir -p "$mnt"
	_MOUNTS+=("$mnt")
	"$UEXT4" "$@" "$img" "$mnt"
	mountpoint -q "$mnt" || fail "uext4 returned but $mnt is not mounted"
}

# umount_uext4 MNT [IMG] - unmount and wait for the daemon to finish writing.
umount_uext4() {
	local mnt=$1 img=${2:-}
	umount "$mnt"
	if [ -n "$img" ]; then
		wait_daemon_exit "$img"
	else
		local i
		for ((i = 0; i < 1200; i++)); do
			[ -z "$(pgrep -f -- "$UEXT4 .*$mnt" 2>/dev/null)" ] && return 0
			sleep 0.1
		done
		fail "daemon for $mnt did not exit"
	fi
}

# kernel_mount IMG MNT [mount options] - kernel ext4 on a loop device.
kernel_mount() {
	local img=$1 mnt=$2 o=${3:-}
	mkdir -p "$mnt"
	_LOOPMOUNTS+=("$mnt")
	mount -t ext4 -o "loop${o:+,$o}" "$img" "$mnt"
}

kernel_umount() {
	umount "$1"
}

# fsck_clean IMG - e2fsck -fn must report no problem.
fsck_clean() {
	local out
	if ! out=$(e2fsck -fn "$1" 2>&1); then
		echo "$out" >&2
		fail "e2fsck -fn $1 is not clean"
	fi
}
