#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-lifecycle: the uext4 command from start to end.
#
#  1. -h/--help/-V/--version exit 0; an unknown option, a bad value and a
#     missing argument exit 1 with a message naming the problem; a missing
#     mountpoint exits 4.
#  2. The command returns only once the mount is usable: right after it
#     returns, the root (inode 2) answers getattr and statfs matches the
#     superblock. A second uext4 on the same image is refused (status 2).
#  3. Data survives unmount and remount (and reads back through debugfs);
#     a mount right after umount (old daemon still writing back) waits for
#     the old daemon instead of failing.
#  4. umount, fusermount3 -u, SIGTERM, SIGINT and SIGHUP each write back the data
#     and leave the superblock clean: state clean, mount count +1, last
#     mounted on / last mount time / last write time set.
#  5. -f stays in the foreground and exits 0 after the unmount; -o debug
#     logs requests on stderr and the capabilities asked for at INIT
#     (writeback_cache on request, POSIX ACLs, never HANDLE_KILLPRIV).
#  6. offset=: a disk image whose ext4 starts at 1 MiB; the first MiB is
#     untouched.
#  7. ro: writes fail with EROFS, the image is byte-identical afterwards.
#  8. auto_unmount: after SIGKILL of the daemon the mount goes away.
#  9. relative IMAGE/MOUNTPOINT: SIGTERM still unmounts (the daemon is in /).
# 10. a loop block device as IMAGE; neither the kernel nor a second uext4
#     can mount it meanwhile.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd dumpe2fs debugfs sha256sum fusermount3

MNT=$WORK/mnt
mkdir -p "$MNT"

# sb IMG FIELD - one "Field: value" of dumpe2fs -h.
sb() {
	dumpe2fs -h "$1" 2>/dev/null | sed -n "s/^$2: *//p"
}

# check_clean IMG OLD_COUNT MNTPOINT - superblock after a clean unmount.
check_clean() {
	local img=$1 old=$2 mnt=$3 v
	v=$(sb "$img" "Filesystem state")
	[ "$v" = clean ] || fail "state after unmount is '$v', not clean"
	v=$(sb "$img" "Mount count")
	[ "$v" = $((old + 1)) ] || fail "mount count $v, expected $((old + 1))"
	v=$(sb "$img" "Last mounted on")
	[ "$v" = "$(realpath "$mnt")" ] || fail "last mounted on '$v'"
	v=$(sb "$img" "Last mount time")
	[ -n "$v" ] && [ "$v" != n/a ] || fail "last mount time not set"
	v=$(sb "$img" "Last write time")
	[ -n "$v" ] && [ "$v" != n/a ] || fail "last write time not set"
	fsck_clean "$img"
}

# debugfs_cat IMG PATH - file content read by debugfs (not by uext4).
debugfs_cat() {
	debugfs -R "cat $2" "$1" 2>/dev/null
}

log "1. command line"
"$UEXT4" -h | grep -q 'usage: uext4' || fail "-h prints no usage"
"$UEXT4" --help >/dev/null || fail "--help status"
"$UEXT4" -V | grep -q '^uext4 ' || fail "-V prints no version"
"$UEXT4" --version >/dev/null || fail "--version status"
img=$(make_image 64M)
set +e
out=$("$UEXT4" -o bogus_opt "$img" "$MNT" 2>&1); rc=$?
set -e
[ "$rc" = 1 ] || fail "unknown option: status $rc, expected 1"
grep -q "bogus_opt" <<<"$out" || fail "unknown option not named: $out"
set +e
out=$("$UEXT4" "$img" "$MNT" -o errors=sometimes 2>&1); rc=$?
[ "$rc" = 1 ] || fail "bad errors=: status $rc"
grep -q "errors=sometimes" <<<"$out" || fail "bad value not named: $out"
out=$("$UEXT4" "$img" 2>&1); rc=$?
[ "$rc" = 1 ] || fail "missing mountpoint argument: status $rc"
out=$("$UEXT4" "$img" "$WORK/nonexistent" 2>&1); rc=$?
set -e
[ "$rc" = 4 ] || fail "mount on a missing directory: status $rc, expected 4 ($out)"
mountpoint -q "$MNT" && fail "something is mounted after failures"
[ -z "$(daemon_pids "$img")" ] || fail "a daemon is left after failures"

log "2. usable when the command returns"
count0=$(sb "$img" "Mount count")
mount_uext4 "$img" "$MNT"
[ "$(stat -c %i "$MNT")" = 2 ] || fail "root is not inode 2"
grep -q " $MNT fuse.uext4 " /proc/mounts || fail "not in /proc/mounts as fuse.uext4"
grep -q "^$(realpath "$img") $MNT " /proc/mounts || fail "fsname is not the image path"
read -r bs blocks bfree bavail files ffree < <(stat -f -c '%S %b %f %a %c %d' "$MNT")
[ "$bs" = "$(sb "$img" "Block size")" ] || fail "statfs block size $bs"
[ "$files" = "$(sb "$img" "Inode count")" ] || fail "statfs files $files"
[ "$ffree" = "$(sb "$img" "Free inodes")" ] || fail "statfs free inodes $ffree"
[ "$bfree" = "$(sb "$img" "Free blocks")" ] || fail "statfs free blocks $bfree"
resv=$(sb "$img" "Reserved block count")
[ "$bavail" = $((bfree - resv)) ] || fail "statfs avail $bavail != $bfree - $resv"
[ "$blocks" -le "$(sb "$img" "Block count")" ] && [ "$blocks" -gt "$bfree" ] ||
	fail "statfs blocks $blocks"
# a second daemon on the same image is refused (rw and ro alike)
mkdir -p "$WORK/mnt2"
for o in rw ro; do
	set +e
	out=$("$UEXT4" -o "$o" "$img" "$WORK/mnt2" 2>&1); rc=$?
	set -e
	[ "$rc" = 2 ] || fail "second $o mount of a mounted image: status $rc ($out)"
	grep -q "in use by another uext4" <<<"$out" || fail "second mount: '$out'"
	mountpoint -q "$WORK/mnt2" && fail "second mount happened"
done
# while mounted rw the superblock says "not clean"
[ "$(sb "$img" "Filesystem state")" = "not clean" ] ||
	fail "state while mounted is not 'not clean'"

log "3. data survives a remount"
head -c 300000 /dev/urandom > "$WORK/data"
cp "$WORK/data" "$MNT/file"
mkdir "$MNT/dir"
echo hello > "$MNT/dir/small"
umount_uext4 "$MNT" "$img"
check_clean "$img" "$count0" "$MNT"
cmp <(debugfs_cat "$img" /file) "$WORK/data" || fail "debugfs sees other data"
mount_uext4 "$img" "$MNT"
cmp "$MNT/file" "$WORK/data" || fail "data differs after remount"
[ "$(cat "$MNT/dir/small")" = hello ] || fail "small file differs"

log "3b. umount and mount again at once: the new daemon waits for the old"
umount_uext4 "$MNT" "$img"
big=$(make_image 400M)
mount_uext4 "$big" "$MNT" -o cache_size=2G
head -c $((150 << 20)) /dev/urandom > "$WORK/big"
cp "$WORK/big" "$MNT/big"	# dirty in the cache: the old daemon has work left
umount "$MNT"
[ -n "$(daemon_pids "$big")" ] || log "(the old daemon was already gone)"
mount_uext4 "$big" "$MNT" -o cache_size=2G
cmp "$MNT/big" "$WORK/big" || fail "data written back by the old daemon differs"
rm "$WORK/big"
umount_uext4 "$MNT" "$big"
fsck_clean "$big"
rm "$big"
mount_uext4 "$img" "$MNT"

log "4. every way of unmounting leaves it clean"
for how in umount fusermount SIGTERM SIGINT SIGHUP; do
	count=$(sb "$img" "Mount count")
	# mounted since the previous iteration; write something new first
	head -c 100000 /dev/urandom > "$WORK/data.$how"
	cp "$WORK/data.$how" "$MNT/$how"
	pid=$(daemon_pids "$img")
	[ -n "$pid" ] || fail "no daemon for $img"
	case $how in
	umount) umount "$MNT" ;;
	fusermount) fusermount3 -u "$MNT" ;;
	SIGTERM) kill -TERM "$pid" ;;
	SIGINT) kill -INT "$pid" ;;
	SIGHUP) kill -HUP "$pid" ;;
	esac
	wait_daemon_exit "$img" || fail "$how: daemon did not exit"
	mountpoint -q "$MNT" && fail "$how: still mounted after the daemon exited"
	# the mount being checked is the one before: count was read while mounted
	check_clean "$img" "$((count - 1))" "$MNT"
	cmp <(debugfs_cat "$img" "/$how") "$WORK/data.$how" ||
		fail "$how: data not written back"
	mount_uext4 "$img" "$MNT"
done
umount_uext4 "$MNT" "$img"

log "5. -f stays in the foreground"
count=$(sb "$img" "Mount count")
"$UEXT4" -f "$img" "$MNT" &
fgpid=$!
for ((i = 0; i < 600; i++)); do
	mountpoint -q "$MNT" && break
	kill -0 "$fgpid" 2>/dev/null || fail "-f daemon exited early"
	sleep 0.1
done
mountpoint -q "$MNT" || fail "-f: never mounted"
_MOUNTS+=("$MNT")
[ "$(stat -c %i "$MNT")" = 2 ] || fail "-f: root is not inode 2"
umount "$MNT"
wait "$fgpid" || fail "-f daemon exited with status $?"
check_clean "$img" "$count" "$MNT"

log "5b. -o debug: every request logged on stderr, foreground; options reach INIT"
"$UEXT4" -o debug,writeback_cache "$img" "$MNT" 2> "$WORK/debug.log" &
fgpid=$!
for ((i = 0; i < 600; i++)); do
	mountpoint -q "$MNT" && break
	kill -0 "$fgpid" 2>/dev/null || fail "debug daemon exited early"
	sleep 0.1
done
mountpoint -q "$MNT" || fail "debug: never mounted"
stat "$MNT/file" >/dev/null
umount "$MNT"
wait "$fgpid" || fail "debug daemon exited with status $?"
grep -q "opcode: INIT" "$WORK/debug.log" || fail "debug: INIT not logged"
grep -q "opcode: LOOKUP" "$WORK/debug.log" || fail "debug: LOOKUP not logged"
want=$(sed -n 's/^uext4: init: capable 0x[0-9a-f]* want 0x\([0-9a-f]*\)$/\1/p' "$WORK/debug.log")
[ -n "$want" ] || fail "debug: no init line"
(( 0x$want & 0x10000 )) || fail "writeback_cache not requested (want 0x$want)"
(( 0x$want & 0x100000 )) && fail "HANDLE_KILLPRIV requested (want 0x$want)"
(( 0x$want & 0x80000 )) || fail "POSIX_ACL not requested (want 0x$want)"
fsck_clean "$img"

log "6. offset="
disk=$WORK/disk.img
truncate -s 40M "$disk"
mkfs.ext4 -q -F -E offset=1048576 "$disk" 32M >/dev/null
head -c 1048576 /dev/urandom | dd of="$disk" conv=notrunc status=none
head_sum=$(head -c 1048576 "$disk" | sha256sum)
set +e
out=$("$UEXT4" "$disk" "$MNT" 2>&1); rc=$?
set -e
[ "$rc" = 3 ] || fail "no offset: status $rc, expected refusal ($out)"
mount_uext4 "$disk" "$MNT" -o offset=1M
cp "$WORK/data" "$MNT/file"
umount_uext4 "$MNT" "$disk"
[ "$(head -c 1048576 "$disk" | sha256sum)" = "$head_sum" ] ||
	fail "offset=: the first MiB changed"
mount_uext4 "$disk" "$MNT" -o offset=1048576
cmp "$MNT/file" "$WORK/data" || fail "offset=: data differs after remount"
umount_uext4 "$MNT" "$disk"
dd if="$disk" of="$WORK/part.img" bs=1M skip=1 status=none
fsck_clean "$WORK/part.img"
cmp <(debugfs_cat "$WORK/part.img" /file) "$WORK/data" || fail "offset=: debugfs disagrees"

log "7. ro"
sum=$(sha256sum < "$img")
mount_uext4 "$img" "$MNT" -o ro
grep " $MNT " /proc/mounts | grep -q '[ ,]ro[ ,]' || fail "ro: not ro in /proc/mounts"
cmp "$MNT/file" "$WORK/data" || fail "ro: data differs"
set +e
err=$(touch "$MNT/new" 2>&1); rc=$?
set -e
[ "$rc" != 0 ] && grep -q "Read-only file system" <<<"$err" || fail "ro: touch gave '$err'"
set +e
err=$( (echo x >> "$MNT/file") 2>&1); rc=$?
set -e
[ "$rc" != 0 ] && grep -q "Read-only file system" <<<"$err" || fail "ro: append gave '$err'"
umount_uext4 "$MNT" "$img"
[ "$(sha256sum < "$img")" = "$sum" ] || fail "ro: the image changed"
fsck_clean "$img"
log "8. auto_unmount: a killed daemon leaves no dead mount behind"
mount_uext4 "$img" "$MNT" -o auto_unmount
pid=$(daemon_pids "$img")
[ -n "$pid" ] || fail "auto_unmount: no daemon"
kill -KILL "$pid"
wait_daemon_exit "$img" || fail "auto_unmount: daemon survived SIGKILL"
for ((i = 0; i < 300; i++)); do
	grep -q " $MNT " /proc/mounts || break
	sleep 0.1
done
grep -q " $MNT " /proc/mounts && fail "auto_unmount: still mounted after the daemon died"
# killed after mounting, before any write: consistent, just not marked clean
[ "$(sb "$img" "Filesystem state")" = "not clean" ] || fail "auto_unmount: state"
fsck_clean "$img"

log "9. relative paths, SIGTERM (the daemon has moved to /)"
img=$(make_image 32M)	# the previous one stays "not clean" (as with the kernel)
(cd "$WORK" && "$UEXT4" "$(basename "$img")" mnt) || fail "relative mount failed"
mountpoint -q "$MNT" || fail "relative: not mounted"
pid=$(pgrep -f -- "$UEXT4 $(basename "$img") mnt")
[ -n "$pid" ] || fail "relative: no daemon"
kill -TERM "$pid"
for ((i = 0; i < 600; i++)); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$pid" 2>/dev/null && fail "relative: daemon did not exit"
mountpoint -q "$MNT" && fail "relative: still mounted after SIGTERM"
[ "$(sb "$img" "Filesystem state")" = clean ] || fail "relative: not clean"
fsck_clean "$img"

log "10. a block device: served, and claimed against the kernel and others"
if command -v losetup >/dev/null 2>&1 && dev=$(losetup -f --show "$img" 2>/dev/null); then
	mount_uext4 "$dev" "$MNT"
	cp "$WORK/data" "$MNT/ondev"
	mkdir -p "$WORK/k"
	if mount -t ext4 "$dev" "$WORK/k" 2>/dev/null; then
		umount "$WORK/k"
		losetup -d "$dev"
		fail "the kernel mounted a device uext4 serves"
	fi
	set +e
	out=$("$UEXT4" -o ro "$dev" "$WORK/mnt2" 2>&1); rc=$?
	set -e
	[ "$rc" = 2 ] && grep -q "busy" <<<"$out" || fail "second uext4 on the device: $rc $out"
	umount_uext4 "$MNT" "$dev"
	losetup -d "$dev"
	cmp <(debugfs_cat "$img" /ondev) "$WORK/data" || fail "block device: data"
	fsck_clean "$img"
else
	log "no loop device: block device case skipped"
fi
log "ok"
