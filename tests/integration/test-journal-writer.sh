#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Transactions written by journal/ are replayed by e2fsck, by the kernel
# and by uext4 to the same blocks.
#
# For each configuration (block size, 64-bit or 32-bit tags, checksum
# v3 / v2 / none, with or without revokes, escaped blocks, a transaction
# of several descriptor and revoke blocks, a log that wraps around),
# uext4-test-jtxn writes a seeded script of transactions into a fresh
# image with journal/ — the last ones committed and not checkpointed,
# needs_recovery set — and a manifest of what every touched block must
# hold after replay. Then:
#   - `uext4-test-jtxn check` walks the log on its own and checks every
#     checksum (debugfs 1.47's logdump checks none), the sequence and
#     that each transaction has its commit block;
#   - `debugfs -R 'logdump -c'` must show every live transaction's
#     commit block from the expected start, and no damage;
#   - copies replayed by `e2fsck -fy`, by `e2fsck -E journal_only`, by
#     the kernel (loop mount + umount) and by uext4 (mount + umount)
#     must all hold the manifest's blocks, have no needs_recovery left,
#     an empty log, and pass `e2fsck -fn`.
# SEED=n reproduces the scripts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/journal-lib.sh"
require_root
require_cmd mkfs.ext4 e2fsck debugfs dumpe2fs
JTXN=${UEXT4_TEST_JTXN:?UEXT4_TEST_JTXN must point at uext4-test-jtxn}
[ -x "$JTXN" ] || skip "uext4-test-jtxn not built"

SEED=${SEED:-$RANDOM}
log "seed $SEED"
BASE=$WORK	# where run_case puts its images

# The case with blocks above 2^32 needs a 16 TiB sparse image: tmpfs holds
# one (ext4 files stop at 16 TiB); remove it whatever happens (mount
# points stay in $WORK, so nothing is mounted inside it).
SHMDIR=
if [ -d /dev/shm ] && [ -w /dev/shm ] &&
	[ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ] &&
	[ "$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')" -gt $((2 << 20)) ]; then
	SHMDIR=$(mktemp -d /dev/shm/uext4-test-jtxn.XXXXXX)
	trap '_rc=$?; rm -rf --one-file-system "$SHMDIR"; (exit $_rc); _cleanup' EXIT
fi

# no_recovery_left IMG WHO - the replayer cleared needs_recovery and the log.
no_recovery_left() {
	local img=$1 who=$2 out
	! needs_recovery "$img" || fail "$who left needs_recovery set"
	out=$("$JTXN" check "$img") || fail "$who: log check after replay: $out"
	grep -q '^LIVE none' <<<"$out" || fail "$who left transactions in the log: $out"
}

# verify_copy IMG MANIFEST WHO - the blocks, the log, fsck.
verify_copy() {
	local img=$1 manifest=$2 who=$3 out
	if ! out=$("$JTXN" verify "$img" "$manifest"); then
		echo "$out" | head -20 >&2
		fail "$who: blocks after replay differ from the manifest"
	fi
	no_recovery_left "$img" "$who"
	fsck_clean "$img"
	echo "$who: $(tail -1 <<<"$out")"
}

# check_logdump IMG FIRST LAST START - debugfs sees transactions FIRST..LAST.
check_logdump() {
	local img=$1 first=$2 last=$3 start=$4 out tid
	out=$(debugfs -R 'logdump -c' "$img" 2>&1) || fail "debugfs logdump failed: $out"
	if grep -Eiq 'checksum|csum|invalid|corrupt|Unexpected block type|short read' <<<"$out"; then
		grep -Ei 'checksum|csum|invalid|corrupt|Unexpected block type|short read' <<<"$out" | head >&2
		fail "logdump reports damage"
	fi
	grep -q "^Journal starts at block $start, transaction $first\$" <<<"$out" ||
		fail "logdump: log does not start at block $start, transaction $first: $(head -3 <<<"$out")"
	for ((tid = first; tid <= last; tid++)); do
		grep -q "^Found expected sequence $tid, type 2 (commit block)" <<<"$out" ||
			fail "logdump: no commit block for transaction $tid"
	done
	tid=$((last + 1))
	grep -Eq "^(No magic number at block [0-9]+: end of journal\.|Found sequence [0-9]+ \(not $tid\) at block [0-9]+: end of journal\.)\$" <<<"$out" ||
		fail "logdump: the log does not end after transaction $last: $(tail -2 <<<"$out")"
}

# run_case NAME SIZE "MKFS OPTIONS" JTXN OPTIONS...
run_case() {
	local name=$1 size=$2 mkfsopt=$3
	shift 3
	local img dir out first last start rc err
	log "== $name: mkfs.ext4 $mkfsopt; jtxn $*"
	dir=$BASE/$name
	mkdir -p "$dir"
	img=$dir/img
	truncate -s "$size" "$img"
	# shellcheck disable=SC2086
	mkfs.ext4 -q -F $mkfsopt "$img" >/dev/null
	out=$("$JTXN" write "$img" --manifest "$dir/manifest" --seed "$SEED" "$@") ||
		fail "$name: uext4-test-jtxn write failed: $out"
	echo "$out" | sed 's/^/  /'
	read -r _ first last < <(grep '^LIVE ' <<<"$out") || true
	[ -n "$last" ] || fail "$name: no LIVE line"
	needs_recovery "$img" || fail "$name: needs_recovery is not set"

	out=$("$JTXN" check "$img") || { echo "$out" >&2; fail "$name: the log does not check"; }
	echo "  check: $(grep transactions <<<"$out")"
	grep -q "^LIVE $first $last\$" <<<"$out" ||
		fail "$name: the log holds $(grep '^LIVE' <<<"$out"), the writer left LIVE $first $last"
	start=$(sed -n 's/^journal: .* start \([0-9]*\) .*/\1/p' <<<"$out")
	check_logdump "$img" "$first" "$last" "$start"

	# A: e2fsck -fy replays, then checks
	cp --sparse=always "$img" "$dir/A"
	rc=0
	e2fsck -fy "$dir/A" > "$dir/A.log" 2>&1 || rc=$?
	[ "$rc" -le 1 ] || { cat "$dir/A.log" >&2; fail "$name: e2fsck -fy exit $rc"; }
	if grep -Eiq 'checksum|invalid|corrupt|abort' "$dir/A.log"; then
		cat "$dir/A.log" >&2
		fail "$name: e2fsck complains while replaying"
	fi
	grep -q 'recovering journal' "$dir/A.log" ||
		fail "$name: e2fsck did not replay: $(head -3 "$dir/A.log")"
	verify_copy "$dir/A" "$dir/manifest" "  A e2fsck -fy"
	rm -f "$dir/A"

	# A2: e2fsck -E journal_only replays and stops
	cp --sparse=always "$img" "$dir/A2"
	rc=0
	e2fsck -y -E journal_only "$dir/A2" > "$dir/A2.log" 2>&1 || rc=$?
	[ "$rc" -le 1 ] || { cat "$dir/A2.log" >&2; fail "$name: e2fsck -E journal_only exit $rc"; }
	if grep -Eiq 'checksum|invalid|corrupt|abort' "$dir/A2.log"; then
		cat "$dir/A2.log" >&2
		fail "$name: e2fsck -E journal_only complains while replaying"
	fi
	verify_copy "$dir/A2" "$dir/manifest" "  A2 e2fsck -E journal_only"
	rm -f "$dir/A2"

	# B: the kernel replays at mount
	cp --sparse=always "$img" "$dir/B"
	kernel_mount "$dir/B" "$WORK/kmnt-$name" ||
		fail "$name: the kernel could not mount (replay failed?): $(dmesg 2>/dev/null | tail -3)"
	kernel_umount "$WORK/kmnt-$name"
	verify_copy "$dir/B" "$dir/manifest" "  B kernel"
	rm -f "$dir/B"

	# C: uext4 replays at mount
	cp --sparse=always "$img" "$dir/C"
	mkdir -p "$WORK/mnt-$name"
	_MOUNTS+=("$WORK/mnt-$name")
	if "$UEXT4" "$dir/C" "$WORK/mnt-$name" 2>"$dir/C.err"; then
		mountpoint -q "$WORK/mnt-$name" || fail "$name: uext4 returned but is not mounted"
		umount_uext4 "$WORK/mnt-$name" "$dir/C"
		if grep -Eiq 'checksum|damaged|corrupt|not replayed' "$dir/C.err"; then
			cat "$dir/C.err" >&2
			fail "$name: uext4 complains while replaying"
		fi
		verify_copy "$dir/C" "$dir/manifest" "  C uext4"
	else
		fail "$name: uext4 did not mount (replay refused or failed): $(cat "$dir/C.err")"
	fi
	rm -f "$dir/C" "$img"
}

# 64-bit, metadata_csum (csum v3), two descriptor and two revoke blocks
run_case v3-64bit 64M "-b 4096" --revokes --big 300 --revoke-many 600
# no 64bit, no metadata_csum: 32-bit tags without checksum (8 bytes)
run_case nocsum-32bit 64M "-b 4096 -O ^64bit,^metadata_csum" --revokes --big 600
# csum v2 (16-bit tag checksums), 64-bit tags (14 bytes)
run_case v2-64bit 64M "-b 4096" --csum=v2 --revokes --big 300
# csum v2 without 64BIT in the journal (10-byte tags)
run_case v2-32bit 64M "-b 4096 -O ^64bit,^metadata_csum" --csum=v2 --revokes
# a 64-bit file system whose journal has no 64BIT (32-bit revoke records)
run_case v3-journal-not-64bit 64M "-b 4096" --no-64bit --revokes
# 64BIT in the journal of a 32-bit file system, csum v3
run_case v3-64bit-journal-on-32bit-fs 64M "-b 4096 -O ^64bit" --64bit --revokes
# 1 KiB blocks: 63 v3 tags a descriptor, 251 revoke records a block
run_case v3-1k 64M "-b 1024" --revokes --big 150 --revoke-many 300
# no revokes at all (REVOKE feature, no revoke block)
run_case v3-norevoke 64M "-b 4096" --txns 16
# a log that wraps: 4 MiB journal, 70% filled, checkpoint, cross the end
run_case wrap-v3 64M "-b 4096 -J size=4" --wrap --revokes
run_case wrap-1k-nocsum 64M "-b 1024 -J size=4 -O ^64bit,^metadata_csum" --wrap --revokes --blocks-per-txn 40
# blocks above 2^32: tags and revoke records with a high word (few
# inodes: e2fsck of 131072 groups in about a second)
if [ -n "$SHMDIR" ]; then
	BASE=$SHMDIR
	run_case v3-above-2to32 16400G "-b 4096 -J size=4 -N 4096" --high --revokes --big 300 --revoke-many 600
	BASE=$WORK
else
	log "== v3-above-2to32: SKIPPED, no tmpfs /dev/shm with 2 GiB free for a 16 TiB sparse image"
fi

log "all configurations replayed to the manifest (seed $SEED)"
