#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-unprivileged: a user who owns an image and a mountpoint mounts it
# without root (libfuse goes through the setuid fusermount3), creates files
# that belong to that user, unmounts with fusermount3 -u; the image is
# clean. With -o fakeroot the same user's new files belong to root.
# Before that, with root mounting: without allow_other other users are kept
# out; with allow_other the kernel checks permissions (default_permissions);
# with allow_other,fakeroot every user acts as root.
# The part mounted by the user needs /dev/fuse open to users (see below).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd runuser useradd fusermount3

USER_NAME=uext4test
if ! id "$USER_NAME" >/dev/null 2>&1; then
	useradd -M -s /bin/sh "$USER_NAME" || skip "cannot create user $USER_NAME"
fi
uid=$(id -u "$USER_NAME")
gid=$(id -g "$USER_NAME")
[ -u "$(command -v fusermount3)" ] || skip "fusermount3 is not setuid"

as_user() {
	runuser -u "$USER_NAME" -- "$@"
}

# lib.sh's cleanup checks mounts with mountpoint(1), which root cannot do on
# a mount without allow_other: unmount those by /proc/mounts first.
unpriv_cleanup() {
	local rc=$?
	if grep -q " $WORK/user/mnt " /proc/mounts; then
		umount "$WORK/user/mnt" 2>/dev/null || umount -l "$WORK/user/mnt"
	fi
	[ -n "${fuse_mode:-}" ] && chmod "$fuse_mode" /dev/fuse
	(exit "$rc")
	_cleanup
}
trap unpriv_cleanup EXIT

chmod 755 "$WORK"
udir=$WORK/user
mkdir -p "$udir/mnt"
MNT=$udir/mnt
_MOUNTS+=("$MNT")

log "root mounts: without allow_other $USER_NAME is kept out"
rimg=$(make_image 64M)
mount_uext4 "$rimg" "$MNT"
if as_user ls "$MNT" >/dev/null 2>&1; then
	fail "$USER_NAME could read a mount without allow_other"
fi
umount_uext4 "$MNT" "$rimg"

log "allow_other: $USER_NAME gets in, and the kernel checks permissions"
mount_uext4 "$rimg" "$MNT" -o allow_other
as_user ls "$MNT" >/dev/null || fail "allow_other: $USER_NAME cannot list"
if as_user sh -c "echo x > '$MNT/denied'" 2>/dev/null; then
	fail "default_permissions: $USER_NAME wrote into root's 0755 directory"
fi
umount_uext4 "$MNT" "$rimg"

log "allow_other,fakeroot: $USER_NAME acts as root"
mount_uext4 "$rimg" "$MNT" -o allow_other,fakeroot
as_user sh -c "echo x > '$MNT/made' && mkdir '$MNT/dir' && chmod 000 '$MNT/made'" ||
	fail "fakeroot: $USER_NAME cannot create in root's directory"
[ "$(stat -c %u:%g:%a "$MNT/made")" = "0:0:0" ] ||
	fail "fakeroot: owner/mode $(stat -c %u:%g:%a "$MNT/made")"
[ "$(as_user cat "$MNT/made")" = x ] || fail "fakeroot: mode 000 kept $USER_NAME out"
as_user chown 4321:8765 "$MNT/dir" || fail "fakeroot: chown refused"
[ "$(stat -c %u:%g "$MNT/dir")" = "4321:8765" ] || fail "fakeroot: chown not applied"
umount_uext4 "$MNT" "$rimg"
fsck_clean "$rimg"

# libfuse opens /dev/fuse itself before it falls back to fusermount3, so the
# user needs access to it (mode 0666 on a normal system). Some containers
# make it 0600: then skip, or with UEXT4_TEST_FUSE_CHMOD=1 open it up for
# the duration of the test and restore the mode afterwards.
if ! as_user sh -c 'exec 3<>/dev/fuse' 2>/dev/null; then
	[ "${UEXT4_TEST_FUSE_CHMOD:-0}" = 1 ] ||
		skip "/dev/fuse is not accessible to $USER_NAME (set UEXT4_TEST_FUSE_CHMOD=1 to chmod it for the test)"
	fuse_mode=$(stat -c %a /dev/fuse)
	chmod 0666 /dev/fuse
fi

img=$(make_image 64M -E root_owner="$uid:$gid")
mv "$img" "$udir/disk.img"
img=$udir/disk.img
chown -R "$uid:$gid" "$udir"
# the daemon runs as the user: make sure it can reach the binary
as_user test -x "$UEXT4" || skip "$UEXT4 is not executable by $USER_NAME"

log "mount as $USER_NAME"
as_user "$UEXT4" "$img" "$MNT" || fail "unprivileged mount failed"
# root itself may not look into a mount without allow_other: ask as the user
grep -q " $MNT fuse.uext4 " /proc/mounts || fail "not mounted"
pid=$(daemon_pids "$img")
[ -n "$pid" ] || fail "no daemon"
[ "$(stat -c %u /proc/"$pid")" = "$uid" ] || fail "daemon does not run as $USER_NAME"
[ "$(as_user stat -c %u "$MNT")" = "$uid" ] || fail "root directory owner"

as_user sh -c "echo hello > '$MNT/f' && mkdir '$MNT/d' && echo x > '$MNT/d/g'" ||
	fail "user cannot create files"
[ "$(as_user stat -c %u:%g "$MNT/f")" = "$uid:$gid" ] ||
	fail "new file owner $(as_user stat -c %u:%g "$MNT/f")"
[ "$(as_user stat -c %u "$MNT/d/g")" = "$uid" ] || fail "new file in subdir owner"
[ "$(as_user cat "$MNT/f")" = hello ] || fail "read back"
# root cannot get in without allow_other (FUSE's default)
if cat "$MNT/f" >/dev/null 2>&1; then
	fail "root could read a mount without allow_other"
fi

log "fusermount3 -u as $USER_NAME"
as_user fusermount3 -u "$MNT" || fail "fusermount3 -u failed"
wait_daemon_exit "$img" || fail "daemon did not exit"
fsck_clean "$img"
[ "$(debugfs -R 'cat /f' "$img" 2>/dev/null)" = hello ] || fail "data not on disk"
debugfs -R 'stat /d/g' "$img" 2>/dev/null | grep -q "User: *$uid " ||
	fail "owner not on disk"

log "an image $USER_NAME may only read: rw refused, ro mounts"
cp "$img" "$udir/root.img"
chown root:root "$udir/root.img"
chmod 0644 "$udir/root.img"
set +e
out=$(as_user "$UEXT4" "$udir/root.img" "$MNT" 2>&1); rc=$?
set -e
[ "$rc" = 2 ] || fail "rw mount of a read-only image: status $rc ($out)"
grep -q "permission denied" <<<"$out" || fail "no permission message: $out"
grep -q " $MNT " /proc/mounts && fail "mounted although refused"
as_user "$UEXT4" -o ro "$udir/root.img" "$MNT" || fail "ro mount of a readable image failed"
[ "$(as_user cat "$MNT/f")" = hello ] || fail "ro: read back"
as_user fusermount3 -u "$MNT"
wait_daemon_exit "$udir/root.img" || fail "daemon did not exit"
cmp "$img" "$udir/root.img" || fail "ro mount changed the image"
fsck_clean "$udir/root.img"

log "fakeroot as $USER_NAME"
as_user "$UEXT4" -o fakeroot "$img" "$MNT" || fail "fakeroot mount failed"
as_user sh -c "echo y > '$MNT/rootfile'" || fail "fakeroot: cannot create"
[ "$(as_user stat -c %u:%g "$MNT/rootfile")" = "0:0" ] ||
	fail "fakeroot: new file owner $(as_user stat -c %u:%g "$MNT/rootfile")"
as_user chown 1234:5678 "$MNT/f" || fail "fakeroot: chown refused"
[ "$(as_user stat -c %u:%g "$MNT/f")" = "1234:5678" ] || fail "fakeroot: chown not applied"
as_user fusermount3 -u "$MNT"
wait_daemon_exit "$img" || fail "daemon did not exit"
fsck_clean "$img"
log "ok"
