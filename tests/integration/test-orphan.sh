#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-orphan: orphan processing at a read-write mount, on orphan lists
# and orphan files built with debugfs (test-recovery has the ones the
# kernel leaves after a crash).
#
#  - a chain: an unlinked inode (freed) whose i_dtime names a truncated
#    one (links 1, blocks past i_size: cut back, data before kept)
#  - an orphan file slot (orphan_file without metadata_csum, so that the
#    block can be written with dd): freed, slot cleared, orphan_present
#    cleared
#  - damaged entries: a reserved inode number, an inode not in use, a link
#    to an out-of-range number, a bad orphan file magic, a loop: the mount
#    goes on, says so, marks the file system with errors and frees
#    nothing it should not; e2fsck -fy then -fn is clean
#  - a file system with errors: the list is cleared, nothing processed
#  - a read-only mount processes nothing and writes nothing
#  - e2fsprogs' orphan images (corpus): e2fsck -fn clean after the mount
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/journal-lib.sh"
require_root
require_cmd debugfs dumpe2fs cmp

MNT=$WORK/mnt
mkdir -p "$MNT"
head -c 16384 /dev/urandom > "$WORK/data16k"

dbg() { debugfs -w -R "$2" "$1" >/dev/null 2>&1; }
ino_of() { debugfs -R "stat /$2" "$1" 2>/dev/null | sed -n 's/^Inode: *\([0-9]*\).*/\1/p'; }
free_inodes() { sb_field "$1" "Free inodes"; }

# orphan_file IMG NAME - a file of 4 blocks made an unlinked orphan
# candidate (entry removed, links 0); prints its inode number.
unlinked_file() {
	local img=$1 name=$2 ino
	dbg "$img" "write $WORK/data16k $name"
	ino=$(ino_of "$img" "$name")
	dbg "$img" "unlink /$name"
	dbg "$img" "sif <$ino> links_count 0"
	echo "$ino"
}

# mount_umount IMG [uext4 args] - mount rw, unmount; stderr in $OUT.
mount_umount() {
	local img=$1
	shift
	uext4_try "$img" "$MNT" "$@" || fail "mount failed: $OUT"
	echo "$OUT"
	umount_uext4 "$MNT" "$img"
}

# repaired IMG - the file system is marked with errors; e2fsck -fy fixes
# it and -fn is clean afterwards.
repaired() {
	sb_field "$1" "Filesystem state" | grep -q "with errors" ||
		fail "not marked with errors: $(sb_field "$1" "Filesystem state")"
	e2fsck -fy "$1" >/dev/null 2>&1 || [ $? -le 1 ] || fail "e2fsck -fy failed"
	fsck_clean "$1"
}

log "orphan chain: unlinked inode, then a truncated one"
img=$(make_image 32M -b 4096)
dbg "$img" "write $WORK/data16k trunc"
b=$(ino_of "$img" trunc)
dbg "$img" "sif <$b> size 5000"		# blocks 2 and 3 lie past i_size
a=$(unlinked_file "$img" gone)
dbg "$img" "sif <$a> dtime $b"
dbg "$img" "ssv last_orphan $a"
fi0=$(free_inodes "$img")
mount_umount "$img"
grep -q "1 orphan inode deleted" <<<"$OUT" || fail "chain: no deletion reported"
grep -q "1 truncate cleaned up" <<<"$OUT" || fail "chain: no truncate reported"
in_use "$img" "$a" && fail "chain: unlinked inode $a still in use"
[ "$(free_inodes "$img")" = $((fi0 + 1)) ] || fail "chain: free inodes $(free_inodes "$img"), expected $((fi0 + 1))"
[ -z "$(sb_field "$img" "First orphan inode")" ] || fail "chain: list not empty"
debugfs -R "stat <$b>" "$img" 2>/dev/null | grep -q "Blockcount: 16$" ||
	fail "chain: truncated inode keeps $(debugfs -R "stat <$b>" "$img" 2>/dev/null | grep -o 'Blockcount: [0-9]*')"
debugfs -R "stat <$b>" "$img" 2>/dev/null | grep -q "dtime:" && fail "chain: dtime of the truncated inode not cleared"
debugfs -R "dump <$b> $WORK/out" "$img" >/dev/null 2>&1
cmp -s "$WORK/out" <(head -c 5000 "$WORK/data16k") || fail "chain: data before i_size changed"
fsck_clean "$img"

log "orphan file slot"
img=$(make_image 32M -b 4096 -O orphan_file,^metadata_csum)
c=$(unlinked_file "$img" slot)
oino=$(sb_field "$img" "Orphan file inode")
oblk=$(debugfs -R "bmap <$oino> 0" "$img" 2>/dev/null)
[ -n "$oblk" ] && [ "$oblk" -gt 0 ] || fail "no orphan file block"
printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((c & 255)) $((c >> 8 & 255)) $((c >> 16 & 255)) $((c >> 24 & 255)))" |
	dd of="$img" bs=1 seek=$((oblk * 4096 + 8)) conv=notrunc status=none
dbg "$img" "feature orphan_present"
# read-only: nothing processed, nothing written
sum=$(sha256sum < "$img")
mount_umount "$img" -o ro
[ "$(sha256sum < "$img")" = "$sum" ] || fail "ro mount with orphans changed the image"
in_use "$img" "$c" || fail "ro mount freed an orphan"
mount_umount "$img"
grep -q "1 orphan inode deleted" <<<"$OUT" || fail "orphan file: no deletion reported"
in_use "$img" "$c" && fail "orphan file: inode $c still in use"
sb_field "$img" "Filesystem features" | grep -q orphan_present && fail "orphan_present still set"
[ "$(od -An -tu4 -j $((oblk * 4096 + 8)) -N4 "$img" | tr -d ' ')" = 0 ] || fail "orphan file slot not cleared"
fsck_clean "$img"

log "orphan file block with a bad magic"
img=$(make_image 32M -b 4096 -O orphan_file,^metadata_csum)
c=$(unlinked_file "$img" slot)
oino=$(sb_field "$img" "Orphan file inode")
oblk=$(debugfs -R "bmap <$oino> 0" "$img" 2>/dev/null)
dd if=/dev/zero of="$img" bs=1 seek=$((oblk * 4096 + 4088)) count=4 conv=notrunc status=none
dbg "$img" "feature orphan_present"
mount_umount "$img"
grep -q "bad magic" <<<"$OUT" || fail "bad magic not reported: $OUT"
in_use "$img" "$c" || fail "bad magic: inode freed anyway"
repaired "$img"

# bad_head NAME PATTERN VALUE - s_last_orphan = VALUE: refused entry.
bad_head() {
	local name=$1 pat=$2 val=$3 fi0
	log "bad list head: $name"
	img=$(make_image 32M -b 4096)
	dbg "$img" "ssv last_orphan $val"
	fi0=$(free_inodes "$img")
	mount_umount "$img"
	grep -q "$pat" <<<"$OUT" || fail "$name: '$pat' not reported: $OUT"
	[ "$(free_inodes "$img")" = "$fi0" ] || fail "$name: free inode count changed"
	[ -z "$(sb_field "$img" "First orphan inode")" ] || fail "$name: list not cleared"
	repaired "$img"
}
bad_head "reserved inode" "out of range" 3
bad_head "beyond the inode count" "out of range" 4000000000
bad_head "inode not in use" "not in use" 100

log "link to an out-of-range number: nothing freed"
img=$(make_image 32M -b 4096)
a=$(unlinked_file "$img" gone)
dbg "$img" "sif <$a> dtime 99999999"
dbg "$img" "ssv last_orphan $a"
mount_umount "$img"
grep -q "bad inode number" <<<"$OUT" || fail "bad link not reported: $OUT"
in_use "$img" "$a" || fail "bad link: inode $a freed anyway"
repaired "$img"

log "a loop of unlinked inodes"
img=$(make_image 32M -b 4096)
a=$(unlinked_file "$img" one)
b=$(unlinked_file "$img" two)
dbg "$img" "sif <$a> dtime $b"
dbg "$img" "sif <$b> dtime $a"
dbg "$img" "ssv last_orphan $a"
mount_umount "$img"
grep -q "2 orphan inodes deleted" <<<"$OUT" || fail "loop: the two inodes not freed: $OUT"
grep -q "not in use" <<<"$OUT" || fail "loop: not stopped at the freed inode: $OUT"
repaired "$img"

log "file system with errors: list cleared, not processed"
img=$(make_image 32M -b 4096)
a=$(unlinked_file "$img" gone)
dbg "$img" "ssv last_orphan $a"
dbg "$img" "ssv state 3"
mount_umount "$img"
grep -q "errors on file system" <<<"$OUT" || fail "errors: not reported: $OUT"
in_use "$img" "$a" || fail "errors: inode freed anyway"
[ -z "$(sb_field "$img" "First orphan inode")" ] || fail "errors: list not cleared"
repaired "$img"
# e2fsprogs' orphan images: processed by the mount, e2fsck -fn clean after
CORPUS=${UEXT4_CORPUS:-$UEXT4_SHARED/corpus/e2fsprogs-images}
for name in f_orphan f_orphan_indirect_inode; do
	[ -f "$CORPUS/$name.img.gz" ] || continue
	log "corpus: $name"
	img=$WORK/$name.img
	gzip -dc "$CORPUS/$name.img.gz" > "$img"
	[ -n "$(sb_field "$img" "First orphan inode")" ] || fail "$name: no orphan list"
	mount_umount "$img"
	grep -qE "orphan inodes? deleted|truncates? cleaned up" <<<"$OUT" || fail "$name: nothing processed"
	[ -z "$(sb_field "$img" "First orphan inode")" ] || fail "$name: list not empty"
	fsck_clean "$img"
done
log "ok"
