#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-journal-debugfs: journals written by `debugfs -w` (jo / jw / jc / jr,
# the way e2fsprogs' tests/j_* cases build them) are replayed by a
# read-write uext4 mount exactly as e2fsck replays them.
#
# Each case builds an image whose journal needs recovery: 32- and 64-bit,
# no checksum, checksum v1 (compat), v2 and v3, revokes in the same and in a
# later transaction, a long transaction (several descriptor and revoke
# blocks), several transactions, an uncommitted last transaction, escaped
# blocks, 1 KiB blocks, a journal already recovered once by `jr`. The
# transactions write free blocks (the file system stays consistent) except
# in the case copied from j_short_trans, which zeroes the bitmaps.
#
# Copies of the image:
#   A  e2fsck -y -E journal_only   replay only: the oracle (no -f: with
#                                  it e2fsck runs the full check as well)
#   C  e2fsck -fy                  replay and full check: must succeed
#   B  uext4 read-write mount + unmount
#   A2 A, then a uext4 read-write mount + unmount (nothing to replay)
#   R  uext4 -o ro: replayed in memory, mounted (exit 0), image untouched;
#      its tree (names, types, modes, sizes, link counts, mtimes, file
#      contents) is the tree B shows while mounted (or A2's, when B was
#      refused)
#   N  uext4 -o norecovery: mounted read-only, image untouched
# B must equal A2 block for block, except for the superblock (primary and
# backups) fields that differ between two mounts (SB_ALLOWED in
# journal-lib.sh); the journal superblock gets no allowance. B against A is
# printed as well (see check_replay). When e2fsck reports the journal
# damaged, uext4 must replay the same blocks and refuse with exit 3 (B
# against A). Afterwards e2fsck -fn gives the same verdict on A and B.
#
# An external journal (e2fsprogs j_ext_long_trans) and the e2fsprogs image
# j_recover_fast_commit (fast commits to replay) are not supported: both
# mounts are refused with exit 3 and nothing is written. The e2fsprogs
# images j_recover_csum{2_32bit,2_64bit,3_64bit} get the A/B comparison.
#
#   UEXT4_JOURNAL_CASES=RE   only the cases whose name matches RE
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/journal-lib.sh"
require_root
require_cmd debugfs dumpe2fs e2fsck mke2fs cmp bzip2 gzip timeout

CORPUS=$UEXT4_SHARED/corpus/e2fsprogs-images
MATCH=${UEXT4_JOURNAL_CASES:-.}

# ---- helpers --------------------------------------------------------------

# fsck_verdict IMG - "clean" or "not clean (exit N)" for e2fsck -fn.
fsck_verdict() {
	local rc=0
	e2fsck -fn "$1" >/dev/null 2>&1 || rc=$?
	if [ "$rc" = 0 ]; then echo clean; else echo "not clean (exit $rc)"; fi
}

# journal_damaged LOG - e2fsck's replay output reports a damaged journal.
journal_damaged() {
	grep -qiE 'corrupt|checksum|replay was aborted|invalid|Clear journal|superblock is corrupt' "$1"
}

nfail=0
failures=()

# check_replay NAME IMG - the A/B/C/R/N comparison described at the top.
#
# uext4's unmount rewrites superblock fields and backup superblocks and
# group descriptors even without a journal (e2fsck -E journal_only leaves
# them stale). So a mounted B is compared with A2: A after a plain uext4
# mount + unmount (no replay left to do). A byte where the two replays
# differ stays different in A2 unless that mount rewrites it from the
# same source, so the comparison still pins down the replay. B against A
# itself is printed too. A refused B is compared with A.
check_replay() {
	local name=$1 img=$2 dir=$WORK/$1 why=() rcA=0 rcC=0 rcB mB rcA2 mA2 damaged=0 va vb ref nrep
	mkdir -p "$dir"
	cp --sparse=always "$img" "$dir/A"
	cp --sparse=always "$img" "$dir/B"
	cp --sparse=always "$img" "$dir/C"

	e2fsck -y -E journal_only "$dir/A" >"$dir/A.log" 2>&1 || rcA=$?
	e2fsck -fy "$dir/C" >"$dir/C.log" 2>&1 || rcC=$?
	[ "$rcA" -le 1 ] || why+=("e2fsck -E journal_only exit $rcA")
	[ "$rcC" -le 1 ] || why+=("e2fsck -fy exit $rcC")
	journal_damaged "$dir/A.log" && damaged=1
	va=$(fsck_verdict "$dir/A")
	# blocks e2fsck's replay changed (the superblock included)
	nrep=$({ cmp -l "$img" "$dir/A" 2>/dev/null || true; } |
		awk -v bs="$(dumpe2fs -h "$img" 2>/dev/null | awk -F: '/^Block size/ { print $2 + 0 }')" \
		'{ b[int(($1 - 1) / bs)] = 1 } END { print length(b) }')
	if [ "$damaged" = 0 ] && [ "$nrep" -lt 3 ] && needs_recovery "$img"; then
		why+=("e2fsck's replay changed only $nrep block(s): the case builds no transaction to replay")
	fi

	LIST_TO=$dir/B run_uext4 "$dir/B" "$dir/mnt" "$dir/B.log" -o noatime
	rcB=$RC mB=$MOUNTED
	sanitizer_clean "$dir/B.log" || why+=("sanitizer report (rw mount)")
	cp --sparse=always "$dir/A" "$dir/A2"
	LIST_TO=$dir/A2 run_uext4 "$dir/A2" "$dir/mnt" "$dir/A2.log" -o noatime
	rcA2=$RC mA2=$MOUNTED
	sanitizer_clean "$dir/A2.log" || why+=("sanitizer report (mount of A)")
	if [ "$damaged" = 1 ]; then
		[ "$rcB" = 3 ] || why+=("e2fsck found the journal damaged; uext4 $(status_text "$rcB"), wanted exit 3")
	elif [ "$rcB" = 3 ] && [ "$RC" = 3 ]; then
		# The file system e2fsck's replay leaves is refused as well
		# (e.g. bitmaps that fail their checksums): not the replay's
		# doing, as long as the replayed blocks agree.
		log "  $name: refused after the replay, as is e2fsck's result ($va): $(tail -n1 "$dir/B.log")"
	elif [ "$rcB" != 0 ] || [ "$mB" != 1 ]; then
		why+=("rw mount: $(status_text "$rcB") (mounted=$mB), wanted exit 0: $(head -c 300 "$dir/B.log")")
	fi
	[ "$rcB" != 3 ] || [ -s "$dir/B.log" ] || why+=("refused without a message")

	echo "    against e2fsck's replay:"
	if [ "$mB" = 1 ]; then
		SHOW_DUMPE2FS=0 compare_images "$dir/A" "$dir/B" "$SB_ALLOWED" | sed 's/^/  /' || true
		if [ "$RC" = 0 ] && [ "$MOUNTED" = 1 ]; then
			ref=$dir/A2
			echo "    against e2fsck's replay + a uext4 mount:"
			compare_images "$dir/A2" "$dir/B" "$SB_ALLOWED" >"$dir/cmp.txt" ||
				why+=("replay differs from e2fsck's")
		else
			ref=$dir/A
			compare_images "$dir/A" "$dir/B" "$SB_ALLOWED" >"$dir/cmp.txt" ||
				why+=("replay differs from e2fsck's")
		fi
	else
		ref=$dir/A
		compare_images "$dir/A" "$dir/B" "$SB_ALLOWED_REFUSED" >"$dir/cmp.txt" ||
			why+=("replay differs from e2fsck's")
	fi
	sed "s/^/  /" "$dir/cmp.txt"
	vb=$(fsck_verdict "$dir/B")
	[ "$va" = "$vb" ] || why+=("e2fsck -fn: $va after e2fsck's replay, $vb after uext4's")

	# Read-only: replayed in memory, the tree of the replayed image;
	# norecovery: mounted read-only without replay. Neither writes the
	# image.
	if needs_recovery "$img"; then
		cp --sparse=always "$img" "$dir/R"
		LIST_TO=$dir/R run_uext4 "$dir/R" "$dir/mnt" "$dir/R.log" -o ro
		sanitizer_clean "$dir/R.log" || why+=("sanitizer report (ro mount)")
		if [ "$rcB" = 3 ] && [ "$rcA2" = 3 ]; then
			# refused after the replay, as e2fsck's result is
			[ "$RC" = 0 ] || [ "$RC" = 3 ] ||
				why+=("ro mount of an image needing recovery: $(status_text "$RC"), wanted exit 0 or 3")
		elif [ "$RC" != 0 ] || [ "$MOUNTED" != 1 ]; then
			why+=("ro mount of an image needing recovery: $(status_text "$RC") (mounted=$MOUNTED), wanted exit 0")
		fi
		if [ "$MOUNTED" = 1 ] && [ "$mB" = 1 ] && [ "$rcB" = 0 ]; then
			same_tree "$dir/B" "$dir/R" >"$dir/tree.txt" ||
				why+=("ro view differs from the rw replay's: $(tr '\n' ' ' <"$dir/tree.txt" | head -c 300)")
		elif [ "$MOUNTED" = 1 ] && [ "$mA2" = 1 ] && [ "$rcA2" = 0 ]; then
			same_tree "$dir/A2" "$dir/R" >"$dir/tree.txt" ||
				why+=("ro view differs from e2fsck's replay: $(tr '\n' ' ' <"$dir/tree.txt" | head -c 300)")
		fi
		cmp -s "$img" "$dir/R" || why+=("ro mount changed the image")
		cp --sparse=always "$img" "$dir/R"
		run_uext4 "$dir/R" "$dir/mnt" "$dir/N.log" -o norecovery
		sanitizer_clean "$dir/N.log" || why+=("sanitizer report (norecovery mount)")
		[ "$RC" = 0 ] && [ "$MOUNTED" = 1 ] ||
			why+=("norecovery mount: $(status_text "$RC"), wanted exit 0")
		cmp -s "$img" "$dir/R" || why+=("norecovery mount changed the image")
	fi

	if [ ${#why[@]} -eq 0 ]; then
		log "PASS $name: e2fsck's replay changed $nrep blocks; uext4 $(status_text "$rcB"), e2fsck -fn $vb$([ "$damaged" = 1 ] && echo ", journal damaged")"
		rm -rf "$dir"
	else
		log "FAIL $name: $(IFS=';'; echo "${why[*]}")"
		nfail=$((nfail + 1))
		failures+=("$name")
		[ -n "${KEEP_WORK:-}" ] || rm -rf "$dir"
	fi
}

# ---- building journals with debugfs ----------------------------------------

# new_image NAME SIZE BLOCKSIZE FEATURES - fresh image $WORK/NAME.img.
new_image() {
	local img=$WORK/$1.img
	rm -f "$img"
	truncate -s "$2" "$img"
	mke2fs -q -F -t ext4 -b "$3" -O "$4" "$img" >/dev/null
	echo "$img"
}

# free_blocks IMG COUNT GOAL - COUNT free blocks from GOAL on, one a line.
free_blocks() {
	debugfs -R "ffb $2 $3" "$1" 2>/dev/null | sed 's/^Free blocks found: //' | tr -s ' ' '\n' | grep .
}

# case_image NAME SIZE BLOCKSIZE FEATURES COUNT GOAL - new_image, and
# COUNT of its free blocks from GOAL on in $WORK/NAME.fb; prints the
# image's path. Fails when either step fails.
case_image() {
	local img
	img=$(new_image "$1" "$2" "$3" "$4") &&
	free_blocks "$img" "$5" "$6" > "$WORK/$1.fb" &&
	echo "$img"
}

# e2fsck_copy IMG OUT - OUT is a copy of IMG replayed by e2fsck -E
# journal_only (its verdict ignored: the copy is checked block by block).
e2fsck_copy() {
	cp --sparse=always "$1" "$2"
	e2fsck -y -E journal_only "$2" >/dev/null 2>&1 || true
}

# blist FILE FIRST N - lines FIRST..FIRST+N-1 of FILE joined with commas.
blist() {
	sed -n "$2,$(($2 + $3 - 1))p" "$1" | paste -sd,
}

# mkdata FILE NBLOCKS BLOCKSIZE TAG - NBLOCKS blocks, each naming TAG and
# its index (so every block of every transaction differs).
mkdata() {
	awk -v n="$2" -v bs="$3" -v tag="$4" 'BEGIN {
		for (i = 0; i < n; i++) {
			s = sprintf("%s block %d ", tag, i)
			while (length(s) < bs - 1)
				s = s s
			printf "%s\n", substr(s, 1, bs - 1)
		}
	}' > "$1"
}

# jdebugfs IMG CMDS... - run debugfs -w with one command per argument.
jdebugfs() {
	local img=$1 out
	shift
	printf '%s\n' "$@" > "$img.cmd"
	out=$(debugfs -w -f "$img.cmd" "$img" 2>&1)
	if echo "$out" | grep -qiE 'error|invalid|not open|No space|Unknown|while '; then
		echo "$out" >&2
		fail "debugfs could not write the journal of $img"
	fi
}

# replayed IMG BLOCK DATAFILE INDEX BS - block BLOCK of IMG holds block INDEX
# of DATAFILE (checks the oracle and the case's construction).
replayed() {
	cmp -s <(dd if="$1" bs="$5" skip="$2" count=1 status=none) \
		<(dd if="$3" bs="$5" skip="$4" count=1 status=none)
}

selected() {
	echo "$1" | grep -qE "$MATCH"
}

# The e2fsck replay (A) is checked for the blocks each case expects, so a
# case that does not build what it means to fails loudly.
case_simple() {
	local name=$1 bs=$2 feat=$3 jo=$4 img
	selected "$name" || return 0
	img=$(case_image "$name" 64M "$bs" "$feat" 16 3000)
	mkdata "$WORK/$name.d1" 16 "$bs" "$name-t1"
	jdebugfs "$img" "$jo" "jw -b $(blist "$WORK/$name.fb" 1 16) $WORK/$name.d1" jc
	check_replay "$name" "$img"
}

# revoke in the same transaction as the blocks it revokes.
case_revoke_same() {
	local name=$1 bs=$2 feat=$3 jo=$4 img
	selected "$name" || return 0
	img=$(case_image "$name" 64M "$bs" "$feat" 12 3000)
	mkdata "$WORK/$name.d1" 12 "$bs" "$name-t1"
	jdebugfs "$img" "$jo" \
		"jw -b $(blist "$WORK/$name.fb" 1 12) -r $(blist "$WORK/$name.fb" 3 4) $WORK/$name.d1" jc
	check_replay "$name" "$img"
}

# T1 writes, T2 revokes some of them, T3 writes one revoked block again
# (replayed: newer than the revoke), T4 revokes nothing and writes more.
case_revoke_later() {
	local name=$1 bs=$2 feat=$3 jo=$4 img f
	selected "$name" || return 0
	img=$(case_image "$name" 64M "$bs" "$feat" 20 3000)
	f=$WORK/$name.fb
	mkdata "$WORK/$name.d1" 12 "$bs" "$name-t1"
	mkdata "$WORK/$name.d3" 1 "$bs" "$name-t3"
	mkdata "$WORK/$name.d4" 8 "$bs" "$name-t4"
	jdebugfs "$img" \
		"$jo" "jw -b $(blist "$f" 1 12) $WORK/$name.d1" jc \
		jo "jw -r $(blist "$f" 2 5)" jc \
		jo "jw -b $(sed -n 3p "$f") $WORK/$name.d3" jc \
		jo "jw -b $(blist "$f" 13 8) $WORK/$name.d4" jc
	check_replay "$name" "$img"
	e2fsck_copy "$img" "$WORK/$name.chk"
	replayed "$WORK/$name.chk" "$(sed -n 3p "$f")" "$WORK/$name.d3" 0 "$bs" ||
		fail "$name: e2fsck did not replay the write after the revoke (case broken)"
	replayed "$WORK/$name.chk" "$(sed -n 4p "$f")" /dev/zero 0 "$bs" ||
		fail "$name: e2fsck replayed a revoked block (case broken)"
	replayed "$WORK/$name.chk" "$(sed -n 1p "$f")" "$WORK/$name.d1" 0 "$bs" ||
		fail "$name: e2fsck did not replay the first transaction (case broken)"
	rm -f "$WORK/$name.chk"
}

# One transaction of N blocks (several descriptor blocks), then one that
# revokes R blocks (several revoke blocks), some of them from the first.
case_long() {
	local name=$1 bs=$2 feat=$3 jo=$4 n=$5 r=$6 size=$7 img f
	selected "$name" || return 0
	img=$(case_image "$name" "$size" "$bs" "$feat" $((n + r)) 2000)
	f=$WORK/$name.fb
	mkdata "$WORK/$name.d1" "$n" "$bs" "$name-t1"
	jdebugfs "$img" \
		"$jo" "jw -b $(blist "$f" 1 "$n") $WORK/$name.d1" jc \
		jo "jw -r $(blist "$f" $((n / 2)) "$r")" jc
	check_replay "$name" "$img"
}

# Six transactions over overlapping blocks: the newest copy of each wins.
case_many() {
	local name=$1 bs=$2 feat=$3 jo=$4 img f t cmds=()
	selected "$name" || return 0
	img=$(case_image "$name" 64M "$bs" "$feat" 24 3000)
	f=$WORK/$name.fb
	cmds+=("$jo")
	for t in 1 2 3 4 5 6; do
		mkdata "$WORK/$name.d$t" 10 "$bs" "$name-t$t"
		[ "$t" = 1 ] || cmds+=(jo)
		cmds+=("jw -b $(blist "$f" $((t * 2)) 10) $WORK/$name.d$t" jc)
	done
	jdebugfs "$img" "${cmds[@]}"
	check_replay "$name" "$img"
}

# A committed transaction, then an uncommitted one over some of the same
# blocks: only the first is replayed.
case_uncommitted() {
	local name=$1 bs=$2 feat=$3 jo=$4 img f
	selected "$name" || return 0
	img=$(case_image "$name" 64M "$bs" "$feat" 12 3000)
	f=$WORK/$name.fb
	mkdata "$WORK/$name.d1" 8 "$bs" "$name-t1"
	mkdata "$WORK/$name.d2" 8 "$bs" "$name-t2"
	jdebugfs "$img" \
		"$jo" "jw -b $(blist "$f" 1 8) $WORK/$name.d1" jc \
		jo "jw -b $(blist "$f" 5 8) -c $WORK/$name.d2" jc
	check_replay "$name" "$img"
	e2fsck_copy "$img" "$WORK/$name.chk"
	replayed "$WORK/$name.chk" "$(sed -n 1p "$f")" "$WORK/$name.d1" 0 "$bs" ||
		fail "$name: e2fsck did not replay the committed transaction (case broken)"
	replayed "$WORK/$name.chk" "$(sed -n 12p "$f")" "$WORK/$name.d2" 7 "$bs" &&
		fail "$name: e2fsck replayed the uncommitted transaction (case broken)"
	rm -f "$WORK/$name.chk"
}

# Blocks whose first four bytes are the jbd2 magic are escaped in the log.
case_escape() {
	local name=$1 bs=$2 feat=$3 jo=$4 img f i
	selected "$name" || return 0
	img=$(case_image "$name" 64M "$bs" "$feat" 6 3000)
	f=$WORK/$name.fb
	mkdata "$WORK/$name.d1" 6 "$bs" "$name-t1"
	for i in 0 2 5; do
		printf '\300\073\071\230' | dd of="$WORK/$name.d1" bs=1 seek=$((i * bs)) conv=notrunc status=none
	done
	jdebugfs "$img" "$jo" "jw -b $(blist "$f" 1 6) $WORK/$name.d1" jc
	check_replay "$name" "$img"
}

# A transaction replayed by debugfs `jr`, then a new one: the log restarts
# at the sequence number jr left in the journal superblock.
case_after_jr() {
	local name=$1 bs=$2 feat=$3 jo=$4 img f
	selected "$name" || return 0
	img=$(case_image "$name" 64M "$bs" "$feat" 12 3000)
	f=$WORK/$name.fb
	mkdata "$WORK/$name.d1" 8 "$bs" "$name-t1"
	mkdata "$WORK/$name.d2" 8 "$bs" "$name-t2"
	jdebugfs "$img" "$jo" "jw -b $(blist "$f" 1 8) $WORK/$name.d1" jc
	jdebugfs "$img" jr
	jdebugfs "$img" jo "jw -b $(blist "$f" 5 8) $WORK/$name.d2" jc
	check_replay "$name" "$img"
}

# e2fsprogs j_short_trans: zeroes over the block and inode bitmaps (the
# file system is inconsistent afterwards; both replays must agree on it).
case_bitmaps() {
	local name=$1 bs=$2 feat=$3 jo=$4 img bm
	selected "$name" || return 0
	img=$(new_image "$name" 64M "$bs" "$feat")
	bm=$(dumpe2fs "$img" 2>/dev/null | grep 'bitmap at' |
		sed -e 's/^.*bitmap at \([0-9]*\).*$/\1/' | paste -sd,)
	jdebugfs "$img" "$jo" "jw -b $bm /dev/zero" jc
	check_replay "$name" "$img"
}

log "debugfs-written journals"
case_simple      t32-nocsum        4096 ^64bit,^metadata_csum jo
case_simple      t64-nocsum        4096 64bit,^metadata_csum  jo
case_simple      t32-csum1         4096 ^64bit,^metadata_csum "jo -c"
case_simple      t64-csum1         4096 64bit,^metadata_csum  "jo -c"
case_simple      t32-csum2         4096 ^64bit,metadata_csum  "jo -c -v 2"
case_simple      t64-csum2         4096 64bit,metadata_csum   "jo -c -v 2"
case_simple      t32-csum3         4096 ^64bit,metadata_csum  "jo -c"
case_simple      t64-csum3         4096 64bit,metadata_csum   "jo -c"
case_revoke_same revoke-same-nocsum 4096 64bit,^metadata_csum jo
case_revoke_same revoke-same-csum3 4096 64bit,metadata_csum   "jo -c"
case_revoke_same revoke-same-csum1 4096 64bit,^metadata_csum  "jo -c"
case_revoke_later revoke-later-32  4096 ^64bit,^metadata_csum jo
case_revoke_later revoke-later-csum2 4096 ^64bit,metadata_csum "jo -c -v 2"
case_revoke_later revoke-later-csum3 4096 64bit,metadata_csum "jo -c"
case_long        long-32-nocsum    4096 ^64bit,^metadata_csum jo        700 1300 64M
case_long        long-64-csum3     4096 64bit,metadata_csum   "jo -c"   700 1300 64M
case_long        long-1k-csum3     1024 64bit,metadata_csum   "jo -c"   400 600  32M
case_long        long-1k-32-csum2  1024 ^64bit,metadata_csum  "jo -c -v 2" 300 400 32M
case_many        many-64-csum3     4096 64bit,metadata_csum   "jo -c"
case_many        many-32-nocsum    4096 ^64bit,^metadata_csum jo
case_many        many-1k-nocsum    1024 64bit,^metadata_csum  jo
case_uncommitted uncommitted-csum3 4096 64bit,metadata_csum   "jo -c"
case_uncommitted uncommitted-32    4096 ^64bit,^metadata_csum jo
case_escape      escape-csum3      4096 64bit,metadata_csum   "jo -c"
case_escape      escape-1k-32      1024 ^64bit,^metadata_csum jo
case_after_jr    after-jr-csum3    4096 64bit,metadata_csum   "jo -c"
case_bitmaps     bitmaps-zeroed    4096 64bit,^metadata_csum  jo

# check_refused NAME IMG [FILE...] - an unsupported journal: the read-write
# and the read-only mount are refused with exit 3 and a message, and
# neither IMG nor the other FILEs (an external journal) change.
check_refused() {
	local name=$1 img=$2 dir=$WORK/$1 why=() f o
	shift 2
	mkdir -p "$dir"
	for f in "$img" "$@"; do
		cp --sparse=always "$f" "$dir/$(basename "$f").orig"
	done
	for o in rw ro; do
		run_uext4 "$img" "$dir/mnt" "$dir/$o.log" -o "$o"
		sanitizer_clean "$dir/$o.log" || why+=("sanitizer report ($o mount)")
		[ "$RC" = 3 ] || why+=("$o mount: $(status_text "$RC"), wanted exit 3")
		[ -s "$dir/$o.log" ] || why+=("$o mount refused without a message")
		for f in "$img" "$@"; do
			cmp -s "$dir/$(basename "$f").orig" "$f" || why+=("$o mount changed $(basename "$f")")
		done
	done
	if [ ${#why[@]} -eq 0 ]; then
		log "PASS $name: refused ($(head -n1 "$dir/rw.log"))"
	else
		log "FAIL $name: $(IFS=';'; echo "${why[*]}")"
		nfail=$((nfail + 1))
		failures+=("$name")
	fi
	rm -rf "$dir"
}

# e2fsprogs j_ext_long_trans: the journal on an external device (a file
# here), written through `jo -f`.
if selected ext-journal; then
	img=$(new_image ext-journal 32M 1024 ^has_journal)
	truncate -s 32M "$WORK/ext-journal.jnl"
	mke2fs -q -F -b 1024 -O journal_dev -T ext4 -U 1db3f677-6832-4adb-bafc-8e4059c30a34 \
		"$WORK/ext-journal.jnl" >/dev/null
	jdebugfs "$img" "feature has_journal" "ssv journal_dev 0x9999" \
		"ssv journal_uuid 1db3f677-6832-4adb-bafc-8e4059c30a34"
	jdebugfs "$img" "jo -f $WORK/ext-journal.jnl" "jw -b 5000-5100 /dev/zero" jc
	needs_recovery "$img" ||
		fail "ext-journal: debugfs did not leave the image needing recovery (case broken)"
	check_refused ext-journal "$img" "$WORK/ext-journal.jnl"
	rm -f "$img" "$WORK/ext-journal.jnl"
fi

if [ -d "$CORPUS" ]; then
	log "e2fsprogs journal images"
	for n in j_recover_csum2_32bit j_recover_csum2_64bit j_recover_csum3_64bit; do
		selected "$n" || continue
		src=$CORPUS/$n.img.bz2
		[ -f "$src" ] || { log "SKIP $n: not in the corpus"; continue; }
		bzip2 -dc "$src" > "$WORK/$n.img"
		check_replay "$n" "$WORK/$n.img"
	done
	n=j_recover_fast_commit
	if selected "$n" && [ -f "$CORPUS/$n.img.gz" ]; then
		gzip -dc "$CORPUS/$n.img.gz" > "$WORK/$n.img"
		check_refused "$n" "$WORK/$n.img"
		rm -f "$WORK/$n.img"
	fi
else
	log "SKIP e2fsprogs journal images: no corpus at $CORPUS"
fi

if [ "$nfail" -gt 0 ]; then
	fail "$nfail case(s) failed: ${failures[*]}"
fi
log "all cases passed"
