#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-mount-helper: mount(8) runs uext4 through mount.fuse3.
#
# mount(8) drops PATH from the environment of its helpers, so mount.fuse3's
# shell finds `uext4` only in the default directories (/usr/local/sbin,
# /usr/sbin, ...): `meson install` puts it in sbindir. The test links
# /usr/local/sbin/uext4 to the build for its duration when that name is
# free (and removes the link afterwards); when it is taken by another
# binary, the fuse.uext4 cases are skipped and only the explicit-path
# syntax (`-t fuse 'PATH/uext4#IMG'`) is tested.
#
#  1. mount -t fuse.uext4 IMG MNT; type, source; data written
#  2. mount -t fuse.uext4 -o ro,nosuid,nodev,noatime: flags reach the kernel
#  3. an fstab line (fuse.uext4, defaults,noauto,nofail,nosuid) and
#     `mount MNT` (mount -T for an alternative fstab file)
#  4. a bad option in fstab: mount fails, the option is named
#  5. `-t fuse 'PATH#IMG'` and the matching fstab line
. "$(dirname "$0")/lib.sh"
require_root
require_cmd mount.fuse3 findmnt debugfs

MNT=$WORK/mnt
mkdir -p "$MNT"
img=$(make_image 64M)
LINK=/usr/local/sbin/uext4
made_link=0

# Daemons started through the helper have argv[0] "uext4", not $UEXT4.
wait_helper_daemon() {
	local i
	for ((i = 0; i < 1200; i++)); do
		pgrep -f -- "uext4 .*$1" >/dev/null 2>&1 || return 0
		sleep 0.1
	done
	fail "daemon for $1 did not exit"
}

umount_helper() {
	umount "$MNT"
	wait_helper_daemon "$img"
}

if [ ! -e "$LINK" ] && [ -d "$(dirname "$LINK")" ]; then
	ln -s "$UEXT4" "$LINK" && made_link=1
	trap 'rc=$?; [ "$made_link" = 1 ] && [ "$(readlink "$LINK")" = "$UEXT4" ] && rm -f "$LINK"; (exit $rc); _cleanup' EXIT
fi
_MOUNTS+=("$MNT")

if [ "$(readlink -f "$LINK" 2>/dev/null)" = "$(readlink -f "$UEXT4")" ]; then
	log "1. mount -t fuse.uext4"
	mount -t fuse.uext4 "$img" "$MNT" || fail "mount -t fuse.uext4 failed"
	mountpoint -q "$MNT" || fail "not mounted"
	[ "$(findmnt -n -o FSTYPE "$MNT")" = fuse.uext4 ] ||
		fail "type $(findmnt -n -o FSTYPE "$MNT")"
	[ "$(findmnt -n -o SOURCE "$MNT")" = "$(realpath "$img")" ] || fail "source"
	echo one > "$MNT/one"
	umount_helper
	fsck_clean "$img"
	[ "$(debugfs -R 'cat /one' "$img" 2>/dev/null)" = one ] || fail "data not on disk"

	log "2. mount -t fuse.uext4 -o ro,nosuid,nodev,noatime"
	mount -t fuse.uext4 -o ro,nosuid,nodev,noatime "$img" "$MNT" || fail "mount with options"
	opts=$(findmnt -n -o OPTIONS "$MNT")
	for o in ro nosuid nodev noatime; do
		grep -qw "$o" <<<"$opts" || fail "option $o missing: $opts"
	done
	[ "$(cat "$MNT/one")" = one ] || fail "data"
	umount_helper

	log "3. fstab entry"
	echo "$img $MNT fuse.uext4 defaults,noauto,nofail,nosuid 0 0" > "$WORK/fstab"
	mount -T "$WORK/fstab" "$MNT" || fail "mount from fstab failed"
	mountpoint -q "$MNT" || fail "fstab: not mounted"
	opts=$(findmnt -n -o OPTIONS "$MNT")
	grep -qw nosuid <<<"$opts" || fail "fstab: nosuid missing: $opts"
	grep -qw rw <<<"$opts" || fail "fstab: not rw: $opts"
	echo two > "$MNT/two"
	umount_helper
	[ "$(debugfs -R 'cat /two' "$img" 2>/dev/null)" = two ] || fail "fstab: data not on disk"

	log "4. a bad option from fstab fails the mount"
	echo "$img $MNT fuse.uext4 defaults,bogus_flag 0 0" > "$WORK/fstab"
	if out=$(mount -T "$WORK/fstab" "$MNT" 2>&1); then
		fail "mount with a bad option succeeded"
	fi
	grep -q bogus_flag <<<"$out" || fail "bad option not named: $out"
	mountpoint -q "$MNT" && fail "mounted despite the bad option"
	fsck_clean "$img"
else
	log "$LINK is another binary: fuse.uext4 cases skipped"
fi

log "5. explicit path: -t fuse 'PATH#IMG'"
mount -t fuse "$UEXT4#$img" "$MNT" || fail "mount -t fuse PATH#IMG failed"
mountpoint -q "$MNT" || fail "PATH#IMG: not mounted"
[ "$(findmnt -n -o FSTYPE "$MNT")" = fuse.uext4 ] || fail "PATH#IMG: type"
echo three > "$MNT/three"
umount_uext4 "$MNT" "$img"
echo "$UEXT4#$img $MNT fuse defaults,noauto,nodev 0 0" > "$WORK/fstab"
mount -T "$WORK/fstab" "$MNT" || fail "fstab PATH#IMG failed"
grep -qw nodev <<<"$(findmnt -n -o OPTIONS "$MNT")" || fail "fstab PATH#IMG: nodev missing"
[ "$(cat "$MNT/three")" = three ] || fail "PATH#IMG: data"
umount_uext4 "$MNT" "$img"
fsck_clean "$img"
log "ok"
