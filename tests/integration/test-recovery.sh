#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-recovery: images the kernel left needing journal recovery (kernel
# ext4 on a loop device, a workload, EXT4_IOC_SHUTDOWN with LOGFLUSH, then
# unmount) are replayed by a read-write uext4 mount.
#
#  - files, directories, a symlink, a rename and a removal done before the
#    shutdown are all there after the replay, with their contents;
#    needs_recovery is gone, e2fsck -fn is clean
#  - before that: a read-only mount is refused (status 3) and -o norecovery
#    mounts read-only with a warning, both leaving the image byte-identical
#  - orphans: a file unlinked while a process held it open is on the
#    orphan list (or in the orphan file, mkfs -O orphan_file) after the
#    replay (checked on a copy replayed by debugfs journal_run, which does
#    not process orphans); the uext4 mount frees it: inode not in use,
#    e2fsck -fn clean without a word about orphans
#  - e2fsprogs' journal images (corpus): the superblock after a rw mount
#    (replayed, or refused after a damaged log) is the one e2fsck -E
#    journal_only leaves; journals uext4 cannot replay (fast commit, a
#    damaged journal superblock or inode) are refused, image untouched
. "$(dirname "$0")/lib.sh"
require_root
require_cmd debugfs dumpe2fs cmp losetup
[ -n "${UEXT4_TEST_SHUTDOWN:-}" ] || skip "needs the shutdown helper (run through meson test)"
grep -qw ext4 /proc/filesystems || modprobe ext4 2>/dev/null || true
grep -qw ext4 /proc/filesystems || skip "no kernel ext4"

MNT=$WORK/mnt
KMNT=$WORK/kmnt
REF=$WORK/ref
mkdir -p "$MNT" "$KMNT" "$REF"

# (dumpe2fs fails on a damaged journal after printing the superblock)
needs_recovery() {
	local sb
	sb=$(dumpe2fs -h "$1" 2>/dev/null || true)
	grep -q '^Filesystem features:.*needs_recovery' <<<"$sb"
}

# shutdown_kernel MNT - crash the kernel mount (journal flushed) and unmount.
shutdown_kernel() {
	"$UEXT4_TEST_SHUTDOWN" "$1" logflush || fail "EXT4_IOC_SHUTDOWN failed"
	kernel_umount "$1"
}

# ---- 1. files and directories ------------------------------------------
log "kernel workload, shutdown with the journal flushed"
img=$(make_image 128M)
kernel_mount "$img" "$KMNT" || skip "cannot mount kernel ext4 on a loop device"
mkdir -p "$KMNT/d/sub" "$REF/d/sub"
for i in $(seq 1 20); do
	head -c $((i * 1000 + 7)) /dev/urandom > "$REF/d/f$i"
done
head -c $((3 << 20)) /dev/urandom > "$REF/big"
echo "in a subdirectory" > "$REF/d/sub/note"
cp -a "$REF/." "$KMNT/"
ln -s d/sub/note "$KMNT/link"
ln -s d/sub/note "$REF/link"
mv "$KMNT/d/f1" "$KMNT/d/renamed"
mv "$REF/d/f1" "$REF/d/renamed"
rm "$KMNT/d/f2" "$REF/d/f2"
sync -f "$KMNT" 2>/dev/null || true
# metadata changes after the last sync: in the running transaction,
# committed by the LOGFLUSH shutdown (data not yet written back, still
# delayed, is lost as in any crash: only empty files here)
touch "$KMNT/late" "$REF/late"
mkdir "$KMNT/late-dir" "$REF/late-dir"
mv "$KMNT/d/f3" "$KMNT/late-dir/f3"
mv "$REF/d/f3" "$REF/late-dir/f3"
shutdown_kernel "$KMNT"
needs_recovery "$img" || skip "the kernel left no needs_recovery after the shutdown"
cp "$img" "$WORK/orig.img"

log "read-only mount: refused, untouched"
set +e
out=$("$UEXT4" -o ro "$img" "$MNT" 2>&1)
rc=$?
set -e
[ "$rc" = 3 ] || fail "ro mount of needs_recovery: status $rc ($out)"
grep -q "add -o norecovery" <<<"$out" || fail "ro refusal lacks the advice: $out"
mountpoint -q "$MNT" && fail "ro: mounted although refused"
cmp -s "$img" "$WORK/orig.img" || fail "refused ro mount changed the image"

log "norecovery: read-only, warning, untouched"
out=$("$UEXT4" -o norecovery "$img" "$MNT" 2>&1) || fail "norecovery mount failed: $out"
_MOUNTS+=("$MNT")
grep -qi "warning:.*needs recovery" <<<"$out" || fail "norecovery: no warning: $out"
grep " $MNT " /proc/mounts | grep -q '[ ,]ro[ ,]' || fail "norecovery: not ro"
ls -R "$MNT" >/dev/null || fail "norecovery: tree not readable"
umount_uext4 "$MNT" "$img"
cmp -s "$img" "$WORK/orig.img" || fail "norecovery mount changed the image"

log "read-write mount: replay"
out=$("$UEXT4" "$img" "$MNT" 2>&1) || fail "rw mount failed: $out"
_MOUNTS+=("$MNT")
grep -q "recovery complete: replayed [1-9][0-9]* blocks" <<<"$out" || fail "no recovery message: $out"
echo "$out"
diff -r --no-dereference "$REF" "$MNT" -x lost+found ||
	fail "replayed tree differs from the reference"
[ "$(readlink "$MNT/link")" = d/sub/note ] || fail "symlink target wrong"
umount_uext4 "$MNT" "$img"
needs_recovery "$img" && fail "needs_recovery still set after the replay"
fsck_clean "$img"

log "replayed again: mounts without recovery, same tree"
out=$("$UEXT4" -o ro "$img" "$MNT" 2>&1) || fail "ro mount after replay failed: $out"
_MOUNTS+=("$MNT")
grep -q "recovery" <<<"$out" && fail "second mount recovered again: $out"
diff -r --no-dereference "$REF" "$MNT" -x lost+found || fail "tree differs after remount"
umount_uext4 "$MNT" "$img"
fsck_clean "$img"

# ---- 2. orphans --------------------------------------------------------
# orphan_case NAME [mkfs options] - a file unlinked while held open.
orphan_case() {
	local name=$1 img copy pid ino out fsck
	shift
	log "orphan ($name): unlinked while open, shutdown"
	img=$(make_image 64M "$@")
	kernel_mount "$img" "$KMNT"
	head -c $((2 << 20)) /dev/urandom > "$KMNT/held"
	echo keep > "$KMNT/keep"
	sync -f "$KMNT" 2>/dev/null || sync
	ino=$(stat -c %i "$KMNT/held")
	(exec 3<"$KMNT/held"; exec sleep 300) &
	pid=$!
	sleep 0.3
	rm "$KMNT/held"
	touch "$KMNT/after-unlink"	# metadata only: delayed data dies
	"$UEXT4_TEST_SHUTDOWN" "$KMNT" logflush || fail "EXT4_IOC_SHUTDOWN failed"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	kernel_umount "$KMNT"
	needs_recovery "$img" || fail "$name: no needs_recovery after the shutdown"

	# the replayed image (without orphan processing) holds the orphan
	copy=$WORK/copy.img
	cp "$img" "$copy"
	debugfs -w -R "journal_run" "$copy" >/dev/null 2>&1
	needs_recovery "$copy" && fail "$name: debugfs did not replay the copy"
	if [ "$name" = list ]; then
		dumpe2fs -h "$copy" 2>/dev/null | grep -q "^First orphan inode: *$ino$" ||
			fail "$name: inode $ino not at the head of the orphan list: $(dumpe2fs -h "$copy" 2>/dev/null | grep -i orphan)"
	else
		dumpe2fs -h "$copy" 2>/dev/null | grep -q '^Filesystem features:.*orphan_present' ||
			fail "$name: orphan_present not set after the replay"
	fi
	debugfs -R "testi <$ino>" "$copy" 2>&1 | grep -q "is marked in use" ||
		fail "$name: orphan inode $ino not in use before the mount"
	rm -f "$copy"

	out=$("$UEXT4" "$img" "$MNT" 2>&1) || fail "$name: rw mount failed: $out"
	_MOUNTS+=("$MNT")
	echo "$out"
	grep -q "1 orphan inode deleted" <<<"$out" || fail "$name: orphan not reported: $out"
	[ "$(cat "$MNT/keep")" = keep ] || fail "$name: keep lost"
	[ -f "$MNT/after-unlink" ] || fail "$name: after-unlink lost"
	[ -e "$MNT/held" ] && fail "$name: unlinked file reappeared"
	umount_uext4 "$MNT" "$img"
	debugfs -R "testi <$ino>" "$img" 2>&1 | grep -q "is not in use" ||
		fail "$name: orphan inode $ino still in use"
	dumpe2fs -h "$img" 2>/dev/null | grep -q "^First orphan inode" &&
		fail "$name: orphan list not empty"
	dumpe2fs -h "$img" 2>/dev/null | grep -q '^Filesystem features:.*orphan_present' &&
		fail "$name: orphan_present still set"
	fsck=$(e2fsck -fn "$img" 2>&1) || { echo "$fsck" >&2; fail "$name: e2fsck -fn not clean"; }
	grep -qi orphan <<<"$fsck" && { echo "$fsck" >&2; fail "$name: e2fsck speaks of orphans"; }
	return 0
}

orphan_case list
if mkfs.ext4 -q -F -O orphan_file "$WORK/probe.img" 64M >/dev/null 2>&1; then
	rm -f "$WORK/probe.img"
	orphan_case file -O orphan_file
else
	log "mkfs.ext4 cannot make orphan_file: that variant skipped"
fi
# ---- 3. e2fsprogs' journal images ---------------------------------------
# A read-write uext4 mount leaves the superblock's features and state as
# `e2fsck -E journal_only` does (refusals included: a damaged log is
# replayed as far as it goes, then the mount is refused with status 3).
CORPUS=${UEXT4_CORPUS:-$UEXT4_SHARED/corpus/e2fsprogs-images}
sb_summary() {
	local sb
	sb=$(dumpe2fs -h "$1" 2>/dev/null || true)
	grep -E '^(Filesystem features|Filesystem state):' <<<"$sb"
}
shopt -s nullglob
for src in "$CORPUS"/j_corrupt_commit*.gz "$CORPUS"/j_corrupt_descr*.gz \
	   "$CORPUS"/j_corrupt_journal_block.img.gz "$CORPUS"/j_corrupt_revoke*.gz \
	   "$CORPUS"/j_recover_csum*.bz2 "$CORPUS"/f_jnl_64bit.img.gz \
	   "$CORPUS"/f_clear_orphan_file.img.gz; do
	name=$(basename "$src")
	name=${name%.img.*}
	case "$src" in
	*.bz2) bzip2 -dc "$src" > "$WORK/u.img" ;;
	*) gzip -dc "$src" > "$WORK/u.img" ;;
	esac
	needs_recovery "$WORK/u.img" || continue
	cp "$WORK/u.img" "$WORK/e.img"
	e2fsck -E journal_only -y "$WORK/e.img" >/dev/null 2>&1 || true
	set +e
	out=$("$UEXT4" "$WORK/u.img" "$MNT" 2>&1)
	rc=$?
	set -e
	if [ "$rc" = 0 ]; then
		_MOUNTS+=("$MNT")
		ls -R "$MNT" >/dev/null 2>&1 || true
		umount_uext4 "$MNT" "$WORK/u.img"
	elif [ "$rc" != 3 ]; then
		fail "$name: status $rc: $out"
	fi
	needs_recovery "$WORK/u.img" && fail "$name: needs_recovery still set (status $rc)"
	want=$(sb_summary "$WORK/e.img")
	got=$(sb_summary "$WORK/u.img")
	# e2fsck leaves orphan_present for its full check; the mount clears it
	[ "$name" = f_clear_orphan_file ] && want=${want/ orphan_present/}
	[ "$want" = "$got" ] || fail "$name: superblock differs from e2fsck's:
$want
--- uext4 (status $rc):
$got"
	log "$name: status $rc, superblock as e2fsck leaves it"
	rm -f "$WORK/u.img" "$WORK/e.img"
done
# Journals uext4 cannot replay (fast commit, damaged journal superblock or
# inode): refused with status 3 before anything is written.
for name in j_recover_fast_commit j_corrupt_sb_csum j_corrupt_sb_magic f_journal; do
	[ -f "$CORPUS/$name.img.gz" ] || continue
	gzip -dc "$CORPUS/$name.img.gz" > "$WORK/u.img"
	needs_recovery "$WORK/u.img" || continue
	cp "$WORK/u.img" "$WORK/orig.img"
	set +e
	out=$("$UEXT4" "$WORK/u.img" "$MNT" 2>&1)
	rc=$?
	set -e
	[ "$rc" = 3 ] || fail "$name: status $rc, expected 3: $out"
	mountpoint -q "$MNT" && fail "$name: mounted although refused"
	cmp -s "$WORK/u.img" "$WORK/orig.img" || fail "$name: refused but changed"
	log "$name: refused, untouched: $(head -1 <<<"$out" | sed "s#$WORK/##")"
done
log "ok"
