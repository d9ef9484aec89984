#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-refuse: images uext4 must not mount (or only read-only), each with a
# message naming the reason and the right exit status, and every refused
# image byte-identical afterwards.
#
#  - missing image, a directory, a FIFO: status 2
#  - a zero-filled file, an XFS image (if mkfs.xfs exists): status 3
#  - an unknown incompat feature bit poked into the superblock: status 3,
#    the bit named
#  - needs_recovery: ro replays the journal in memory (here an empty
#    journal: test-recovery has real ones) and writes nothing;
#    norecovery/noload mount read-only with a warning and write nothing;
#    rw replays and clears the flag; an external journal or no journal at
#    all: refused, rw and ro, image untouched; a file system that must be
#    mounted read-only (bigalloc, an unknown ro_compat bit): mounted
#    read-only, replayed in memory, image untouched
#  - an unknown ro_compat bit, and bigalloc: mounted read-only, said so
. "$(dirname "$0")/lib.sh"
require_root
require_cmd debugfs sha256sum

MNT=$WORK/mnt
mkdir -p "$MNT"

# refused EXPECTED_STATUS PATTERN IMG [uext4 args...] - uext4 must exit
# with EXPECTED_STATUS, print PATTERN, mount nothing and leave IMG as it was.
refused() {
	local want=$1 pat=$2 img=$3 before="" after="" out rc
	shift 3
	[ -f "$img" ] && before=$(sha256sum < "$img")
	set +e
	out=$("$UEXT4" "$@" "$img" "$MNT" 2>&1)
	rc=$?
	set -e
	[ "$rc" = "$want" ] || fail "$img: status $rc, expected $want ($out)"
	grep -qi -- "$pat" <<<"$out" || fail "$img: message '$out' lacks '$pat'"
	mountpoint -q "$MNT" && fail "$img: mounted although refused"
	[ -f "$img" ] && after=$(sha256sum < "$img")
	[ "$before" = "$after" ] || fail "$img: changed although refused"
	log "refused ($rc): $out"
}

# ro_replayed PATTERN IMG [uext4 args...] - uext4 must mount IMG read-only
# (replaying the journal in memory), print PATTERN, serve the root, and
# leave IMG as it was.
ro_replayed() {
	local pat=$1 img=$2 before out
	shift 2
	before=$(sha256sum < "$img")
	out=$("$UEXT4" "$@" "$img" "$MNT" 2>&1) || fail "$img: mount failed: $out"
	_MOUNTS+=("$MNT")
	grep -qi -- "$pat" <<<"$out" || fail "$img: message '$out' lacks '$pat'"
	grep -q "in memory, image not written" <<<"$out" || fail "$img: no in-memory replay: $out"
	grep " $MNT " /proc/mounts | grep -q '[ ,]ro[ ,]' || fail "$img: not ro"
	[ "$(stat -c %i "$MNT")" = 2 ] || fail "$img: root not served"
	ls "$MNT" >/dev/null || fail "$img: root not readable"
	umount_uext4 "$MNT" "$img"
	[ "$(sha256sum < "$img")" = "$before" ] || fail "$img: changed by a read-only mount"
	log "ro, replayed in memory: $out"
}

# poke IMG OFFSET BYTE - write one byte (octal escape) into IMG.
poke() {
	printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

log "missing, directory, fifo"
refused 2 "no such file" "$WORK/does-not-exist"
mkdir "$WORK/adir"
refused 2 "not a regular file or block device" "$WORK/adir"
mkfifo "$WORK/afifo"
refused 2 "not a regular file or block device" "$WORK/afifo"

log "not ext2/3/4"
truncate -s 32M "$WORK/zero.img"
refused 3 "not an ext2/ext3/ext4 file system" "$WORK/zero.img"
refused 3 "not an ext2/ext3/ext4 file system" "$WORK/zero.img" -o ro
if command -v mkfs.xfs >/dev/null 2>&1; then
	truncate -s 300M "$WORK/xfs.img"
	mkfs.xfs -q "$WORK/xfs.img"
	refused 3 "not an ext2/ext3/ext4 file system" "$WORK/xfs.img"
else
	log "no mkfs.xfs: XFS case skipped"
fi

log "offset= that does not point at a file system"
img=$(make_image 32M)
refused 3 "not an ext2/ext3/ext4 file system" "$img" -o offset=1G
refused 3 "not an ext2/ext3/ext4 file system" "$img" -o offset=512
fsck_clean "$img"

log "unknown incompat feature"
img=$(make_image 32M)
# s_feature_incompat is the le32 at 1024 + 0x60; set bit 19 (0x80000)
orig=$(od -An -tx1 -j $((1024 + 0x62)) -N1 "$img" | tr -d ' ')
poke "$img" $((1024 + 0x62)) "\\$(printf %o $((0x$orig | 0x08)))"
refused 3 "unknown (0x80000)" "$img"
refused 3 "unsupported incompatible feature" "$img" -o ro
poke "$img" $((1024 + 0x62)) "\\$(printf %o $((0x$orig)))"
fsck_clean "$img"

log "encrypt (a known incompat feature we do not support)"
img=$(make_image 32M -O encrypt)
refused 3 "encrypt" "$img"
fsck_clean "$img"

log "needs_recovery: ro replays in memory, norecovery mounts ro untouched, rw replays"
img=$(make_image 32M)
debugfs -w -R "feature needs_recovery" "$img" >/dev/null 2>&1
dumpe2fs -h "$img" 2>/dev/null | grep -q needs_recovery || fail "could not set needs_recovery"
ro_replayed "recovery complete" "$img" -o ro
dumpe2fs -h "$img" 2>/dev/null | grep -q needs_recovery || fail "ro mount cleared needs_recovery"
sum=$(sha256sum < "$img")
for o in norecovery noload ro,norecovery norecovery,rw; do
	out=$("$UEXT4" -o "$o" "$img" "$MNT" 2>&1) || fail "-o $o mount of needs_recovery failed: $out"
	_MOUNTS+=("$MNT")
	grep -qi "without replaying" <<<"$out" || fail "-o $o: no warning about the journal: $out"
	grep " $MNT " /proc/mounts | grep -q '[ ,]ro[ ,]' || fail "-o $o: not ro"
	[ "$(stat -c %i "$MNT")" = 2 ] || fail "-o $o: root not served"
	umount_uext4 "$MNT" "$img"
	[ "$(sha256sum < "$img")" = "$sum" ] || fail "-o $o mount changed the image"
done
# read-write: the (empty) journal is replayed, needs_recovery cleared
out=$("$UEXT4" "$img" "$MNT" 2>&1) || fail "rw mount of needs_recovery failed: $out"
_MOUNTS+=("$MNT")
mkdir "$MNT/after-replay"
umount_uext4 "$MNT" "$img"
dumpe2fs -h "$img" 2>/dev/null | grep -q needs_recovery && fail "needs_recovery still set after a rw mount"
fsck_clean "$img"

log "needs_recovery with an external journal: refused, untouched"
img=$(make_image 32M)
debugfs -w -R "feature needs_recovery" "$img" >/dev/null 2>&1
debugfs -w -R "ssv journal_inum 0" "$img" >/dev/null 2>&1
debugfs -w -R "ssv journal_uuid 6f3a3a5e-1d2c-4b7e-9a55-0123456789ab" "$img" >/dev/null 2>&1
dumpe2fs -h "$img" 2>/dev/null | grep -qi "journal UUID:.*6f3a3a5e" || fail "could not set the journal UUID"
refused 3 "external device" "$img"
refused 3 "external device" "$img" -o ro
# and when the superblock still names the inode but also a journal device
img=$(make_image 32M)
debugfs -w -R "feature needs_recovery" "$img" >/dev/null 2>&1
debugfs -w -R "ssv journal_dev 0x801" "$img" >/dev/null 2>&1
refused 3 "external device" "$img"
refused 3 "external device" "$img" -o ro

log "needs_recovery without a journal: refused, untouched"
img=$(make_image 32M -O ^has_journal)
debugfs -w -R "feature needs_recovery" "$img" >/dev/null 2>&1
refused 3 "no journal" "$img"
refused 3 "no journal" "$img" -o ro
debugfs -w -R "feature -needs_recovery" "$img" >/dev/null 2>&1
fsck_clean "$img"

log "needs_recovery on a file system forced read-only: replayed in memory"
img=$(make_image 64M -O bigalloc -C 16384)
debugfs -w -R "feature needs_recovery" "$img" >/dev/null 2>&1
ro_replayed "bigalloc; mounting read-only" "$img"
debugfs -w -R "feature -needs_recovery" "$img" >/dev/null 2>&1
fsck_clean "$img"
img=$(make_image 32M)
dd if="$img" of="$WORK/sb.orig" bs=1024 skip=1 count=1 status=none
debugfs -w -R "feature needs_recovery" "$img" >/dev/null 2>&1
ro=$(od -An -tu4 -j $((1024 + 0x64)) -N4 "$img" | tr -d ' ')
debugfs -w -R "ssv feature_ro_compat $((ro | 0x80000))" "$img" >/dev/null 2>&1
[ "$(od -An -tu4 -j $((1024 + 0x64)) -N4 "$img" | tr -d ' ')" = $((ro | 0x80000)) ] ||
	fail "could not set the ro_compat bit"
ro_replayed "unknown (0x80000)" "$img"
dd if="$WORK/sb.orig" of="$img" bs=1024 seek=1 count=1 conv=notrunc status=none
fsck_clean "$img"

log "unknown ro_compat feature: read-only"
img=$(make_image 32M)
# read the le32 at 1024 + 0x64 and set bit 19 with debugfs (keeps the csum)
ro=$(od -An -tu4 -j $((1024 + 0x64)) -N4 "$img" | tr -d ' ')
dd if="$img" of="$WORK/sb.orig" bs=1024 skip=1 count=1 status=none
debugfs -w -R "ssv feature_ro_compat $((ro | 0x80000))" "$img" >/dev/null 2>&1
[ "$(od -An -tu4 -j $((1024 + 0x64)) -N4 "$img" | tr -d ' ')" = $((ro | 0x80000)) ] ||
	fail "could not set the ro_compat bit"
sum=$(sha256sum < "$img")
out=$("$UEXT4" "$img" "$MNT" 2>&1) || fail "unknown ro_compat: mount failed: $out"
_MOUNTS+=("$MNT")
grep -qi "read-only" <<<"$out" || fail "unknown ro_compat: no read-only message: $out"
grep -q "unknown (0x80000)" <<<"$out" || fail "unknown ro_compat: bit not named: $out"
grep " $MNT " /proc/mounts | grep -q '[ ,]ro[ ,]' || fail "unknown ro_compat: not ro"
set +e
err=$(mkdir "$MNT/d" 2>&1)
set -e
grep -q "Read-only file system" <<<"$err" || fail "unknown ro_compat: mkdir gave '$err'"
umount_uext4 "$MNT" "$img"
[ "$(sha256sum < "$img")" = "$sum" ] || fail "unknown ro_compat: image changed"
# libext2fs will not open it for writing now: put the old superblock back
dd if="$WORK/sb.orig" of="$img" bs=1024 seek=1 count=1 conv=notrunc status=none
fsck_clean "$img"

log "bigalloc: read-only"
img=$(make_image 64M -O bigalloc -C 16384)
out=$("$UEXT4" "$img" "$MNT" 2>&1) || fail "bigalloc: mount failed: $out"
_MOUNTS+=("$MNT")
grep -q "bigalloc" <<<"$out" || fail "bigalloc: not named: $out"
grep " $MNT " /proc/mounts | grep -q '[ ,]ro[ ,]' || fail "bigalloc: not ro"
umount_uext4 "$MNT" "$img"
fsck_clean "$img"
log "ok"
