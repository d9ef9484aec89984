#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# EIO from the device: the blocks of one file fail (UEXT4_FAULT_EIO, the
# engine's fault hook, see daemon/faultinject.c). Reading that file gives
# EIO, writing it back makes fsync report EIO; every other file stays
# readable and writable, the daemon keeps serving, unmount is clean and
# nothing else on the image changes (e2fsck -fn clean).
. "$(dirname "$0")/lib.sh"
require_root
require_cmd debugfs python3

img=$(make_image 64M -b 4096)
mnt=$WORK/mnt
mount_uext4 "$img" "$mnt"
head -c 1M /dev/urandom > "$WORK/a.ref"
head -c 1M /dev/urandom > "$WORK/b.ref"
cp "$WORK/a.ref" "$mnt/a"
cp "$WORK/b.ref" "$mnt/b"
umount_uext4 "$mnt" "$img"
fsck_clean "$img"

bs=4096
first=$(debugfs -R "bmap /b 0" "$img" 2>/dev/null)
last=$(debugfs -R "bmap /b 255" "$img" 2>/dev/null)
[ -n "$first" ] && [ -n "$last" ] || fail "cannot map /b"
[ $((last - first)) = 255 ] || last=$first	# not contiguous: fail its first block only
range="$((first * bs)),$(((last + 1) * bs))"
sum_before=$(sha256sum < "$img")

# -- reads of b's blocks fail
UEXT4_FAULT_EIO="r,$range" mount_uext4 "$img" "$mnt"
cmp "$mnt/a" "$WORK/a.ref" || fail "a unreadable while only b's blocks fail"
if cat "$mnt/b" > /dev/null 2> "$WORK/err"; then fail "reading b succeeded"; fi
grep -q "Input/output error" "$WORK/err" || fail "reading b: $(cat "$WORK/err")"
ls "$mnt" > /dev/null || fail "daemon stopped serving after EIO"
cmp "$mnt/a" "$WORK/a.ref" || fail "a unreadable after the EIO"
echo new > "$mnt/c" || fail "cannot create after a read EIO"
umount_uext4 "$mnt" "$img"
fsck_clean "$img"
log "read EIO: b fails, the rest served"

# -- writes to b's blocks fail: fsync reports it, nothing else is lost
UEXT4_FAULT_EIO="w,$range" mount_uext4 "$img" "$mnt"
python3 - "$mnt/b" <<'PY' || fail "overwriting b: fsync did not report EIO"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, b"x" * 4096, 0)
try:
    os.fsync(fd)
except OSError as e:
    sys.exit(0 if e.errno == errno.EIO else 1)
sys.exit(1)
PY
cmp "$mnt/a" "$WORK/a.ref" || fail "a changed by a failed write to b"
echo more > "$mnt/d" || fail "cannot create after a write EIO"
sync "$mnt/d" || fail "fsync of another file failed"
umount_uext4 "$mnt" "$img"
fsck_clean "$img"
mount_uext4 "$img" "$mnt" -o ro
cmp "$mnt/a" "$WORK/a.ref" || fail "a lost"
[ "$(cat "$mnt/c")" = new ] && [ "$(cat "$mnt/d")" = more ] || fail "c or d lost"
cmp -s "$mnt/b" "$WORK/b.ref" || log "b holds the data of the failed write where it could be read back"
umount_uext4 "$mnt" "$img"
log "write EIO: fsync reports it, the rest intact"

# -- a malformed setting is refused, image untouched
cp "$img" "$WORK/img2"
sum_before=$(sha256sum < "$WORK/img2")
if UEXT4_FAULT_EIO="bogus" "$UEXT4" "$WORK/img2" "$mnt" 2> "$WORK/err"; then
	_MOUNTS+=("$mnt")
	fail "malformed UEXT4_FAULT_EIO accepted"
fi
grep -q "UEXT4_FAULT_EIO" "$WORK/err" || fail "no message: $(cat "$WORK/err")"
[ "$(sha256sum < "$WORK/img2")" = "$sum_before" ] || fail "refused mount changed the image"
fsck_clean "$img"
