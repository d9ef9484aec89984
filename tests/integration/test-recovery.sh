#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-recovery: images the kernel left needing journal recovery (kernel
# ext4 on a loop device, a workload, EXT4_IOC_SHUTDOWN with LOGFLUSH, then
# unmount) are replayed by a read-write uext4 mount.
#
#  - files, directories, a symlink, a rename and a removal done before the
#    shutdown are all there after the replay, with their contents;
#    needs_recovery is gone, e2fsck -fn is clean
#  - before that: a read-only mount replays the journal in memory: the
#    tree it shows (names, types, modes, sizes, link counts, mtimes,
#    contents) is the tree of a copy replayed by e2fsck -fy and the tree of
#    the read-write replay, and the image stays byte-identical; -o
#    norecovery mounts read-only with a warning, image untouched. The
#    crash image is copied right after the shutdown, before the kernel's
#    unmount writes home blocks
#  - a file system forced read-only (bigalloc) needing recovery: the same
#    in-memory replay, the same tree as e2fsck's replay, image untouched
#  - orphans: a file unlinked while a process held it open is on the
#    orphan list (or in the orphan file, mkfs -O orphan_file) after the
#    replay (checked on a copy replayed by debugfs journal_run, which does
#    not process orphans); the uext4 mount frees it: inode not in use,
#    e2fsck -fn clean without a word about orphans
#  - e2fsprogs' journal images (corpus): the superblock after a rw mount
#    (replayed, or refused after a damaged log) is the one e2fsck -E
#    journal_only leaves; a ro mount before it writes nothing and mounts
#    (a damaged log: with a warning to run e2fsck -f); journals uext4
#    cannot replay (fast commit, a damaged journal superblock or inode)
#    are refused, rw and ro, image untouched
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/journal-lib.sh"
require_root
require_cmd debugfs dumpe2fs cmp losetup
[ -n "${UEXT4_TEST_SHUTDOWN:-}" ] || skip "needs the shutdown helper (run through meson test)"
grep -qw ext4 /proc/filesystems || modprobe ext4 2>/dev/null || true
grep -qw ext4 /proc/filesystems || skip "no kernel ext4"

MNT=$WORK/mnt
KMNT=$WORK/kmnt
REF=$WORK/ref
mkdir -p "$MNT" "$KMNT" "$REF"

# same_view A B WHAT - listings A and B (tree_list) agree, or the test
# fails with the first differences.
same_view() {
	same_tree "$1" "$2" 20 >&2 || fail "$3: trees differ"
}

# ro_view IMG OUT [uext4 options] - mount IMG read-only with uext4, list
# its tree (lost+found left out) into OUT, unmount; the image must not
# change. Prints what uext4 printed.
ro_view() {
	local img=$1 out=$2 sum
	shift 2
	sum=$(sha256sum < "$img")
	uext4_try "$img" "$MNT" -o ro "$@" || fail "ro mount of $img failed: $OUT"
	grep " $MNT " /proc/mounts | grep -q '[ ,]ro[ ,]' || fail "ro mount of $img: not ro"
	tree_list "$MNT" "$out" ./lost+found
	umount_uext4 "$MNT" "$img"
	[ "$(sha256sum < "$img")" = "$sum" ] || fail "ro mount changed $img"
	echo "$OUT"
}

# mount_walk IMG [uext4 options] - uext4_try IMG on $MNT (sets OUT, RC);
# when it mounted, read the whole tree (errors ignored) and unmount.
mount_walk() {
	local img=$1
	shift
	uext4_try "$img" "$MNT" "$@" || true
	if [ "$RC" = 0 ]; then
		ls -R "$MNT" >/dev/null 2>&1 || true
		umount_uext4 "$MNT" "$img"
	fi
}

# e2fsck_view IMG OUT - the tree of a copy of IMG replayed by e2fsck -fy.
e2fsck_view() {
	local copy=$WORK/e2fsck-copy.img rc=0
	cp --sparse=always "$1" "$copy"
	e2fsck -fy "$copy" >/dev/null 2>&1 || rc=$?
	[ "$rc" -le 1 ] || fail "e2fsck -fy on a copy of $1: exit $rc"
	needs_recovery "$copy" && fail "e2fsck -fy left needs_recovery set"
	ro_view "$copy" "$2" >/dev/null
	rm -f "$copy"
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
shutdown_kernel "$KMNT" "$img"
needs_recovery "$img" || fail "the kernel left no needs_recovery after the shutdown"
cp "$img" "$WORK/orig.img"

log "read-only mount: replayed in memory, untouched"
out=$(ro_view "$img" "$WORK/ro")
echo "$out"
grep -q "recovery complete (in memory, image not written): replayed [1-9][0-9]* blocks" <<<"$out" ||
	fail "ro: no in-memory recovery message: $out"
cmp -s "$img" "$WORK/orig.img" || fail "ro mount changed the image"
needs_recovery "$img" || fail "ro mount cleared needs_recovery"
e2fsck_view "$img" "$WORK/e2fsck"
same_view "$WORK/e2fsck" "$WORK/ro" "ro view against e2fsck -fy's replay"
log "ro view: $(wc -l < "$WORK/ro.list") entries, as e2fsck's replay"

log "norecovery: read-only, warning, untouched"
uext4_try "$img" "$MNT" -o norecovery || fail "norecovery mount failed: $OUT"
grep -qi "warning:.*needs recovery" <<<"$OUT" || fail "norecovery: no warning: $OUT"
grep " $MNT " /proc/mounts | grep -q '[ ,]ro[ ,]' || fail "norecovery: not ro"
ls -R "$MNT" >/dev/null || fail "norecovery: tree not readable"
umount_uext4 "$MNT" "$img"
cmp -s "$img" "$WORK/orig.img" || fail "norecovery mount changed the image"

log "read-write mount: replay"
uext4_try "$img" "$MNT" || fail "rw mount failed: $OUT"
grep -q "recovery complete: replayed [1-9][0-9]* blocks" <<<"$OUT" || fail "no recovery message: $OUT"
echo "$OUT"
diff -r --no-dereference "$REF" "$MNT" -x lost+found ||
	fail "replayed tree differs from the reference"
[ "$(readlink "$MNT/link")" = d/sub/note ] || fail "symlink target wrong"
tree_list "$MNT" "$WORK/rw" ./lost+found
umount_uext4 "$MNT" "$img"
same_view "$WORK/rw" "$WORK/ro" "ro view against the rw replay"
needs_recovery "$img" && fail "needs_recovery still set after the replay"
fsck_clean "$img"

log "replayed again: mounts without recovery, same tree"
uext4_try "$img" "$MNT" -o ro || fail "ro mount after replay failed: $OUT"
grep -q "recovery" <<<"$OUT" && fail "second mount recovered again: $OUT"
diff -r --no-dereference "$REF" "$MNT" -x lost+found || fail "tree differs after remount"
umount_uext4 "$MNT" "$img"
fsck_clean "$img"

# ---- 1b. forced read-only (bigalloc) ------------------------------------
log "bigalloc (forced read-only): kernel crash, replayed in memory"
img=$(make_image 128M -O bigalloc -C 16384)
if kernel_mount "$img" "$KMNT" 2>/dev/null; then
	mkdir -p "$KMNT/b/c"
	for i in $(seq 1 12); do
		head -c $((i * 3000 + 11)) /dev/urandom > "$KMNT/b/f$i"
	done
	sync -f "$KMNT" 2>/dev/null || sync
	touch "$KMNT/b/late"
	mv "$KMNT/b/f1" "$KMNT/b/c/f1"
	rm "$KMNT/b/f2"
	chmod 600 "$KMNT/b/f4"
	shutdown_kernel "$KMNT" "$img"
	needs_recovery "$img" || fail "bigalloc: no needs_recovery after the shutdown"
	cp "$img" "$WORK/orig.img"
	out=$(ro_view "$img" "$WORK/ba" -o rw)
	echo "$out"
	grep -q "bigalloc" <<<"$out" || fail "bigalloc: forced ro not said: $out"
	grep -q "recovery complete (in memory, image not written)" <<<"$out" ||
		fail "bigalloc: no in-memory recovery: $out"
	cmp -s "$img" "$WORK/orig.img" || fail "bigalloc: image changed"
	e2fsck_view "$img" "$WORK/ba-e2fsck"
	same_view "$WORK/ba-e2fsck" "$WORK/ba" "bigalloc: ro view against e2fsck -fy's replay"
	grep -q '^./b/c/f1 ' "$WORK/ba.list" || fail "bigalloc: rename lost in the ro view"
	rm -f "$img" "$WORK/orig.img"
else
	log "kernel cannot mount bigalloc: that case skipped"
fi

# ---- 2. orphans --------------------------------------------------------
# orphan_case NAME [mkfs options] - a file unlinked while held open.
orphan_case() {
	local name=$1 img copy pid ino fsck
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
	in_use "$copy" "$ino" ||
		fail "$name: orphan inode $ino not in use before the mount"
	rm -f "$copy"

	uext4_try "$img" "$MNT" || fail "$name: rw mount failed: $OUT"
	echo "$OUT"
	grep -q "1 orphan inode deleted" <<<"$OUT" || fail "$name: orphan not reported: $OUT"
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
[ -d "$CORPUS" ] || log "SKIP e2fsprogs journal images: no corpus at $CORPUS"
shopt -s nullglob
for src in "$CORPUS"/j_corrupt_commit*.gz "$CORPUS"/j_corrupt_descr*.gz \
	   "$CORPUS"/j_corrupt_journal_block.img.gz "$CORPUS"/j_corrupt_revoke*.gz \
	   "$CORPUS"/j_recover_csum*.bz2 "$CORPUS"/f_jnl_64bit.img.gz \
	   "$CORPUS"/f_clear_orphan_file.img.gz; do
	[ -f "$src" ] || continue	# a literal name, not in the corpus
	name=$(basename "$src")
	name=${name%.img.*}
	case "$src" in
	*.bz2) bzip2 -dc "$src" > "$WORK/u.img" ;;
	*) gzip -dc "$src" > "$WORK/u.img" ;;
	esac
	needs_recovery "$WORK/u.img" || continue
	cp "$WORK/u.img" "$WORK/e.img"
	e2fsck -E journal_only -y "$WORK/e.img" >/dev/null 2>&1 || true
	# read-only first: replayed in memory (a damaged log with a warning)
	cp "$WORK/u.img" "$WORK/orig.img"
	mount_walk "$WORK/u.img" -o ro
	if [ "$RC" = 0 ]; then
		grep -q "in memory, image not written" <<<"$OUT" ||
			fail "$name: ro: no in-memory recovery message: $OUT"
	elif [ "$RC" != 3 ]; then
		fail "$name: ro: status $RC: $OUT"
	fi
	cmp -s "$WORK/u.img" "$WORK/orig.img" || fail "$name: ro mount changed the image"
	log "$name: ro: status $RC$(grep -q 'journal is damaged' <<<"$OUT" && echo ', journal damaged (warned)'), image untouched"
	mount_walk "$WORK/u.img"
	[ "$RC" = 0 ] || [ "$RC" = 3 ] || fail "$name: status $RC: $OUT"
	rc=$RC
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
# inode): refused with status 3 before anything is written, rw and ro.
for name in j_recover_fast_commit j_corrupt_sb_csum j_corrupt_sb_magic f_journal; do
	[ -f "$CORPUS/$name.img.gz" ] || continue
	gzip -dc "$CORPUS/$name.img.gz" > "$WORK/u.img"
	needs_recovery "$WORK/u.img" || continue
	cp "$WORK/u.img" "$WORK/orig.img"
	for o in rw ro; do
		uext4_try "$WORK/u.img" "$MNT" -o "$o" || true
		[ "$RC" = 3 ] || fail "$name: $o: status $RC, expected 3: $OUT"
		mountpoint -q "$MNT" && fail "$name: $o: mounted although refused"
		cmp -s "$WORK/u.img" "$WORK/orig.img" || fail "$name: $o: refused but changed"
		log "$name: $o refused, untouched: $(head -1 <<<"$OUT" | sed "s#$WORK/##")"
	done
done
log "ok"
