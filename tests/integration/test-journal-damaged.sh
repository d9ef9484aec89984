#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-journal-damaged: damaged journals. uext4 replays what e2fsck
# replays or refuses clearly; never a crash, a hang or a sanitizer report.
#
# 1. The e2fsprogs j_corrupt_* images (bad commit/descriptor/revoke/data
#    block checksums, wrong tids, a revoke r_count overflowing its block, a
#    bad journal superblock checksum or magic).
# 2. A journal written by the kernel (a workload on a loop mount, then
#    EXT4_IOC_SHUTDOWN with logflush), with one random bit flipped or one
#    byte overwritten inside the used part of the log, for a seeded series
#    of trials; on a file system with journal checksums v3 (metadata_csum)
#    and on one without journal checksums.
# 3. The same kernel-written journals with one bit flipped or one byte
#    overwritten in the journal superblock (journal block 0, its first
#    1 KiB; half of the trials in the first 0x60 bytes, where the fields
#    are). Under checksums v3 nearly every flip fails the superblock
#    checksum; on the journal without checksums the flipped value reaches
#    the replay (s_start, s_first, s_maxlen, s_sequence, feature bits).
#    Then targeted field edits on that journal: s_start 0 (the log looks
#    clean: neither may replay anything; also with s_errno set), maxlen - 1,
#    past maxlen, a later descriptor (with and without its sequence); s_maxlen
#    larger than the journal inode; s_first 0; s_sequence + 1 and - 1;
#    s_blocksize 1024; an unknown incompat bit; s_nr_users 100 and 2;
#    s_errno.
# 4. The ext4 superblock's journal fields edited (debugfs ssv) on an image
#    that needs recovery: s_journal_inum the root directory, lost+found, a
#    regular file, a regular file whose inode is a copy of the journal's;
#    s_journal_dev set; s_jnl_backup_type. A refusal must name the
#    journal.
#
# For each image: copy A gets `e2fsck -y -E journal_only` (the replay
# alone), copy B a read-write uext4 mount. Accepted: exit 0 (mounted, then
# unmounted) or exit 3 (refused, with a message). Anything else fails: a
# signal, a hang, exit 5 without an I/O error, another status, a sanitizer
# report. When uext4 wrote the image, B must equal A block for block except
# for the superblock fields a mount legitimately changes (SB_ALLOWED in
# journal-lib.sh); a refused, untouched image is fine. A read-only
# mount (copy R) replays the journal in memory and never writes the image:
# exit 0, or 3 — where the read-write mount was refused before replaying
# (a damaged journal superblock or inode, fast commits) it must be 3; where
# the read-write mount replayed and mounted, it must mount and show the
# same tree (names, types, modes, sizes, link counts, mtimes, contents);
# where the read-write replay met damage, it mounts (with a warning to run
# e2fsck -f) or is refused.
#
#   UEXT4_JOURNAL_SEED=N     seed of the bit-flip trials (printed)
#   UEXT4_JOURNAL_TRIALS=N   number of trials (default 40, 24 under ASan)
#   UEXT4_JOURNAL_SB_TRIALS=N  number of journal superblock trials
#                            (default 16, 10 under ASan)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/journal-lib.sh"
require_root
require_cmd debugfs dumpe2fs e2fsck mke2fs cmp gzip od timeout
: "${UEXT4_TEST_SHUTDOWN:=${UEXT4_BUILD:-}/tests/integration/uext4-test-shutdown}"

CORPUS=$UEXT4_SHARED/corpus/e2fsprogs-images
if [ "${UEXT4_SANITIZER_BUILD:-0}" = 1 ]; then
	TRIALS=${UEXT4_JOURNAL_TRIALS:-24}
	SB_TRIALS=${UEXT4_JOURNAL_SB_TRIALS:-10}
else
	TRIALS=${UEXT4_JOURNAL_TRIALS:-40}
	SB_TRIALS=${UEXT4_JOURNAL_SB_TRIALS:-16}
fi
SEED=${UEXT4_JOURNAL_SEED:-$(( ($(date +%s) ^ $$) % 1000000 ))}

nfail=0
failures=()

# home_blocks ORIG IMG - the number of file system blocks IMG writes
# differently from ORIG outside the superblock copies and the journal
# inode's blocks: what a replay (or a repair) wrote home. Only the ranges
# between journal blocks are compared (a journal e2fsck rewrote would
# otherwise be millions of differing bytes).
home_blocks() {
	local orig=$1 img=$2 bs nb sbb from count
	bs=$({ dumpe2fs -h "$orig" 2>/dev/null || true; } | awk -F: '/^Block size/ { print $2 + 0 }')
	bs=${bs:-4096}
	nb=$(($(stat -c %s "$orig") / bs))
	sbb=$({ sb_copies "$orig" || true; } | awk -v bs="$bs" '{ printf "%d ", $1 / bs }')
	{ debugfs -R 'blocks <8>' "$orig" 2>/dev/null || true; } | tr ' ' '\n' |
		{ grep -E '^[0-9]+$' || true; } | sort -n |
		awk -v nb="$nb" '
			{ if ($1 > at) print at, $1 - at; at = $1 + 1 }
			END { if (nb > at) print at, nb - at }' |
		while read -r from count; do
			{ cmp -l -i $((from * bs)):$((from * bs)) -n $((count * bs)) "$orig" "$img" 2>/dev/null || true; } |
				awk -v at=$((from * bs)) -v bs="$bs" '{ print int((at + $1 - 1) / bs) }' | uniq
		done |
		awk -v skip="$sbb" '
			BEGIN { n = split(skip, s, " "); for (i = 1; i <= n; i++) x[s[i] + 0] = 1 }
			!($1 in x) && !($1 in seen) { seen[$1] = 1; c++ }
			END { print c + 0 }'
}

# e2fsck_said LOG - e2fsck's first word on the journal from LOG (a
# complaint about it when there is one, "recovering journal" otherwise),
# or "nothing about the journal".
e2fsck_said() {
	local line
	line=$(grep -iE 'journal' "$1" | grep -v 'recovering journal' | head -n 1 || true)
	[ -n "$line" ] || line=$(grep -o 'recovering journal' "$1" | head -n 1 || true)
	echo "${line:-nothing about the journal}" |
		sed -E 's#^e2fsck: ##; s# /[^ ]*/A:#:#; s#^/[^ ]*/A: ##; s/[[:space:]]+$//'
}

# Start offset and name of every journal superblock field (journal block
# 0, big-endian).
JSB_FIELDS='0 h_magic 4 h_blocktype 8 h_sequence 12 s_blocksize 16 s_maxlen
20 s_first 24 s_sequence 28 s_start 32 s_errno 36 s_feature_compat
40 s_feature_incompat 44 s_feature_ro_compat 48 s_uuid 64 s_nr_users
68 s_dynsuper 72 s_max_transaction 76 s_max_trans_data 80 s_checksum_type
81 s_padding2 84 s_num_fc_blks 88 s_head 92 s_padding 252 s_checksum
256 s_users'

# jsb_field BYTE - the name of the journal superblock field holding BYTE.
jsb_field() {
	awk -v b="$1" -v f="$JSB_FIELDS" 'BEGIN {
		n = split(f, a, /[ \n]+/)
		for (i = 1; i + 1 <= n; i += 2)
			if (a[i] + 0 <= b)
				name = a[i + 1]
		print name
	}'
}

# jsb_offset IMG - image offset of IMG's journal superblock: journal block
# 0 (debugfs bmap <8> 0) times the block size.
jsb_offset() {
	local bs pblk
	bs=$({ dumpe2fs -h "$1" 2>/dev/null || true; } | awk -F: '/^Block size/ { print $2 + 0 }')
	pblk=$({ debugfs -R 'bmap <8> 0' "$1" 2>/dev/null || true; } | tr -dc 0-9)
	if [ -z "$bs" ] || [ "${pblk:-0}" -le 0 ]; then
		fail "$1: no journal block 0"
	fi
	echo $((pblk * bs))
}

# jsb_get IMG BYTE - the 32-bit big-endian journal superblock field at BYTE.
jsb_get() {
	od -An -tu4 --endian=big -j $(($(jsb_offset "$1") + $2)) -N4 "$1" | tr -dc 0-9
}

# jsb_set IMG BYTE VALUE - write VALUE (taken modulo 2^32) as the 32-bit
# big-endian journal superblock field at BYTE. Nothing else is written:
# no checksum is recomputed.
jsb_set() {
	local v=$(($3 & 0xffffffff))
	# shellcheck disable=SC2059  # the format is the four bytes
	printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $((v >> 24 & 255)) \
		$((v >> 16 & 255)) $((v >> 8 & 255)) $((v & 255)))" |
		dd of="$1" bs=1 seek=$(($(jsb_offset "$1") + $2)) conv=notrunc status=none
	[ "$(jsb_get "$1" "$2")" = "$v" ] || fail "$1: could not write journal superblock byte $2"
}

# jsb_diff REF IMG - the journal superblock fields (32-bit ones) whose
# values differ between REF (e2fsck) and IMG (uext4), one a line.
jsb_diff() {
	local ra ia o va vb
	ra=$(jsb_offset "$1") ia=$(jsb_offset "$2")
	for o in 12 16 20 24 28 32 36 40 44 64 68 72 76 84 88 252; do
		va=$(od -An -tu4 --endian=big -j $((ra + o)) -N4 "$1" | tr -dc 0-9)
		vb=$(od -An -tu4 --endian=big -j $((ia + o)) -N4 "$2" | tr -dc 0-9)
		[ "$va" = "$vb" ] || echo "$(jsb_field "$o"): e2fsck $va, uext4 $vb"
	done
}

# check_damaged NAME ORIG [CONTEXT] - copies A (e2fsck replay), B (uext4
# read-write) and R (uext4 read-only) of ORIG; the acceptance rules above.
# CONTEXT is printed with a failure (the trial, offset and bit).
# With REFUSAL_RE set, a refusal (exit 3, rw or ro) must match it. With
# DESCRIBE=1, NPASS_LINE says what e2fsck said and how many blocks each
# wrote home (home_blocks), and HOME_A, HOME_B hold those counts.
check_damaged() {
	local name=$1 orig=$2 ctx=${3:-} dir=$WORK/$1 why=() rcA=0 rcB mB res
	local e2desc='' ref=$dir/A
	mkdir -p "$dir"
	cp --sparse=always "$orig" "$dir/A"
	cp --sparse=always "$orig" "$dir/B"
	e2fsck -y -E journal_only "$dir/A" >"$dir/A.log" 2>&1 || rcA=$?

	LIST_TO=$dir/B run_uext4 "$dir/B" "$dir/mnt" "$dir/B.log" -o noatime
	rcB=$RC mB=$MOUNTED
	sanitizer_clean "$dir/B.log" || why+=("sanitizer report (rw mount)")
	case $rcB in
	0) [ "$mB" = 1 ] || why+=("exit 0 but never mounted") ;;
	3) [ -s "$dir/B.log" ] || why+=("refused without a message") ;;
	5) grep -qiE 'I/O error|Input/output error' "$dir/B.log" ||
		why+=("exit 5 without an I/O error: $(head -c 300 "$dir/B.log")") ;;
	*) why+=("rw mount: $(status_text "$rcB"): $(head -c 300 "$dir/B.log")") ;;
	esac
	[ -z "${REFUSAL_RE:-}" ] || [ "$rcB" != 3 ] || grep -qiE "$REFUSAL_RE" "$dir/B.log" ||
		why+=("rw refusal does not name the journal: $(head -c 300 "$dir/B.log")")

	if [ "$rcB" = 0 ] && [ "$mB" = 1 ]; then
		res="mounted"
		cp --sparse=always "$dir/A" "$dir/A2"
		run_uext4 "$dir/A2" "$dir/mnt" "$dir/A2.log"
		sanitizer_clean "$dir/A2.log" || why+=("sanitizer report (mount of A)")
		if [ "$RC" = 0 ] && [ "$MOUNTED" = 1 ]; then
			ref=$dir/A2
			compare_images "$dir/A2" "$dir/B" "$SB_ALLOWED" >"$dir/cmp.txt" || why+=("replay differs from e2fsck's")
		else
			compare_images "$dir/A" "$dir/B" "$SB_ALLOWED" >"$dir/cmp.txt" || why+=("replay differs from e2fsck's")
		fi
	elif cmp -s "$orig" "$dir/B"; then
		res="refused, image untouched"
		: >"$dir/cmp.txt"
	else
		res="refused after replaying"
		compare_images "$dir/A" "$dir/B" "$SB_ALLOWED_REFUSED" >"$dir/cmp.txt" ||
			why+=("replay before refusing differs from e2fsck's")
	fi

	# whatever the damage, the image uext4 leaves must check as e2fsck's
	# own replay does: clean when e2fsck's is clean
	if [ "$res" != "refused, image untouched" ]; then
		local fa=0 fb=0
		e2fsck -fn "$ref" >"$dir/fsckA.log" 2>&1 || fa=$?
		e2fsck -fn "$dir/B" >"$dir/fsckB.log" 2>&1 || fb=$?
		[ "$fa" != 0 ] || [ "$fb" = 0 ] ||
			why+=("e2fsck -fn: e2fsck's replay is clean, uext4's is not (exit $fb): $(grep -v '^e2fsck 1' "$dir/fsckB.log" | head -n 3 | tr '\n' ' ')")
	fi

	if [ "${DESCRIBE:-0}" = 1 ]; then
		HOME_A=$(home_blocks "$orig" "$dir/A")
		HOME_B=$(home_blocks "$orig" "$dir/B")
		e2desc=" [$(e2fsck_said "$dir/A.log")], $HOME_A blocks home"
		res="$res, $HOME_B blocks home"
	fi

	cp --sparse=always "$orig" "$dir/R"
	LIST_TO=$dir/R run_uext4 "$dir/R" "$dir/mnt" "$dir/R.log" -o ro
	sanitizer_clean "$dir/R.log" || why+=("sanitizer report (ro mount)")
	case $RC in
	0) [ "$MOUNTED" = 1 ] || why+=("ro mount: exit 0 but never mounted") ;;
	3) [ -s "$dir/R.log" ] || why+=("ro mount refused without a message") ;;
	*) why+=("ro mount: $(status_text "$RC"): $(head -c 300 "$dir/R.log")") ;;
	esac
	[ -z "${REFUSAL_RE:-}" ] || [ "$RC" != 3 ] || grep -qiE "$REFUSAL_RE" "$dir/R.log" ||
		why+=("ro refusal does not name the journal: $(head -c 300 "$dir/R.log")")
	if [ "$res" = "refused, image untouched" ] && [ "$rcB" = 3 ] &&
	   needs_recovery "$orig"; then
		[ "$RC" = 3 ] || why+=("rw refused before replaying, but ro $(status_text "$RC")")
	elif [ "$rcB" = 0 ] && [ "$mB" = 1 ]; then
		if [ "$RC" != 0 ] || [ "$MOUNTED" != 1 ]; then
			why+=("rw replayed and mounted, but ro $(status_text "$RC")")
		elif needs_recovery "$orig"; then
			same_tree "$dir/B" "$dir/R" >"$dir/tree.txt" ||
				why+=("ro view differs from the rw replay's: $(tr '\n' ' ' <"$dir/tree.txt" | head -c 300)")
		fi
	fi
	[ "$RC" != 0 ] || ! needs_recovery "$orig" || grep -q "in memory, image not written" "$dir/R.log" ||
		why+=("ro mount: no in-memory recovery message")
	cmp -s "$orig" "$dir/R" || why+=("ro mount changed the image")
	[ "$RC" = 0 ] && res="$res; ro mounted" || res="$res; ro $(status_text "$RC")"

	if [ ${#why[@]} -eq 0 ]; then
		NPASS_LINE="$name: e2fsck exit $rcA${e2desc:-,}${e2desc:+;} uext4 $(status_text "$rcB") ($res)"
		rm -rf "$dir"
		return 0
	fi
	log "FAIL $name${ctx:+ ($ctx)}: $(IFS=';'; echo "${why[*]}")"
	sed 's/^/    /' "$dir/cmp.txt"
	if grep -q 'journal superblock\]' "$dir/cmp.txt"; then
		jsb_diff "$ref" "$dir/B" 2>/dev/null | sed 's/^/      journal superblock /' || true
	fi
	echo "    e2fsck: $(grep -v '^e2fsck 1' "$dir/A.log" | head -n 5 | tr '\n' ' ')"
	echo "    uext4:  $(head -n 5 "$dir/B.log" | tr '\n' ' ')"
	[ -z "$e2desc" ] || echo "    e2fsck exit $rcA$e2desc; uext4 $(status_text "$rcB") ($res)"
	nfail=$((nfail + 1))
	failures+=("$name")
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$dir"
	return 1
}

# ---- 1. e2fsprogs j_corrupt_* images -----------------------------------------

if [ -d "$CORPUS" ]; then
	log "e2fsprogs damaged-journal images"
	n=0
	for src in "$CORPUS"/j_corrupt_*.img.gz; do
		[ -f "$src" ] || continue
		name=$(basename "$src" .img.gz)
		gzip -dc "$src" > "$WORK/$name.img"
		if check_damaged "$name" "$WORK/$name.img"; then
			log "PASS $NPASS_LINE"
		fi
		rm -f "$WORK/$name.img"
		n=$((n + 1))
	done
	[ "$n" -gt 0 ] || log "SKIP: no j_corrupt_* image in $CORPUS"
else
	log "SKIP e2fsprogs images: no corpus at $CORPUS"
fi

# ---- 1b. hostile journal inodes ---------------------------------------------
# A journal inode that cannot hold a log (absurd size, a hole, not a
# regular file, an inode number past the table) on an image that needs
# recovery: refused with exit 3 and a message, read-write and read-only,
# image byte-identical, quickly (the size must not drive an allocation).

hostile_journal() {
	local name=$1 cmd=$2 img="$WORK/hostile.img" mode
	make_image_at "$img"
	debugfs -w -R "$cmd" "$img" >/dev/null 2>&1
	debugfs -w -R 'feature needs_recovery' "$img" >/dev/null 2>&1
	needs_recovery "$img" || fail "$name: could not set needs_recovery"
	cp "$img" "$img.orig"
	for mode in rw ro; do
		run_uext4 "$img" "$WORK/hmnt" "$WORK/hostile.log" -o "$mode"
		sanitizer_clean "$WORK/hostile.log" || fail "$name ($mode): sanitizer report"
		[ "$RC" = 3 ] || fail "$name ($mode): $(status_text "$RC"), expected a refusal (exit 3)"
		grep -q 'journal' "$WORK/hostile.log" ||
			fail "$name ($mode): refused without a message naming the journal"
		cmp -s "$img" "$img.orig" || fail "$name ($mode): the image was written"
	done
	log "PASS hostile journal inode: $name (refused, untouched)"
	rm -f "$img" "$img.orig"
}

make_image_at() {
	rm -f "$1"
	truncate -s 64M "$1"
	mkfs.ext4 -q -F "$1"
}

hostile_journal huge-size 'sif <8> size 0x3fffffff000'
hostile_journal hole 'sif <8> block[4] 16'
hostile_journal not-regular 'sif <8> mode 040755'
hostile_journal unlinked 'sif <8> links_count 0'
hostile_journal inum-past-table 'ssv journal_inum 4000000000'

# ---- 2. bit flips in a kernel-written journal -------------------------------

# pattern TAG BYTES - reproducible file contents.
pattern() {
	awk -v tag="$1" -v n="$2" 'BEGIN {
		for (i = 0; i * 32 < n; i++)
			printf "%-31.31s\n", tag " " i " " (i * 2654435761) % 4294967296
	}' | head -c "$2"
}

# kernel_journal IMG KIND - a kernel ext4 image whose log holds committed
# transactions and needs recovery. KIND csum3: metadata_csum (journal
# checksums v3), a metadata workload. KIND wrap-nocsum / wrap-csum3:
# data=journal on a 1024-block journal, so the log wraps around its end.
# No file is left open-unlinked (orphan processing is a mount's job, not
# the replay's).
kernel_journal() {
	local img=$1 kind=$2 mnt=$WORK/kmnt i mkfs=() mo=
	case $kind in
	csum3) mkfs=(-O metadata_csum,64bit) ;;
	wrap-nocsum) mkfs=(-O ^metadata_csum,^64bit -J size=4); mo=data=journal ;;
	wrap-csum3) mkfs=(-O metadata_csum,64bit -J size=4); mo=data=journal ;;
	esac
	truncate -s 64M "$img"
	E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -F -t ext4 -b 4096 "${mkfs[@]}" \
		-U 6b1b6e4c-2f1a-4c1e-9d3e-0a5b7c9e1f20 -E hash_seed=0b7e1c2d-3f4a-4b5c-8d6e-7f8091a2b3c4 \
		"$img" >/dev/null
	kernel_mount "$img" "$mnt" "$mo"
	mkdir "$mnt/d" "$mnt/e"
	if [ -n "$mo" ]; then
		for i in 1 2 3 4 5 6; do
			pattern "f$i" 655360 > "$mnt/f$i"
			sync
		done
	fi
	for i in $(seq 1 40); do
		echo "file $i" > "$mnt/d/f$i"
	done
	dd if=/dev/zero of="$mnt/big" bs=4k count=64 status=none
	sync
	for i in $(seq 41 80); do
		echo "file $i" > "$mnt/e/f$i"
	done
	setfattr -n user.k -v value "$mnt/d/f3" 2>/dev/null || true
	mv "$mnt/d/f1" "$mnt/e/moved"
	rm "$mnt/d/f2" "$mnt/e/f50"
	ln -s target "$mnt/e/link"
	mkdir -p "$mnt/e/x/y/z"
	[ -z "$mo" ] || pattern g 262144 > "$mnt/g"
	shutdown_kernel "$mnt"
	needs_recovery "$img" || fail "kernel left $img without needs_recovery (shutdown helper failed?)"
}

# log_info IMG - "START END MAXLEN": the log runs from journal block START
# to the last block logdump recognizes, END (wrapping from MAXLEN-1 to 1).
# The header blocks (descriptor, revoke, commit) go to IMG.hdr.
log_info() {
	local start end maxlen
	start=$(dumpe2fs -h "$1" 2>/dev/null | awk -F: '/^Journal start/ { print $2 + 0 }')
	maxlen=$(dumpe2fs -h "$1" 2>/dev/null | awk -F: '/^Total journal blocks/ { print $2 + 0 }')
	debugfs -R logdump "$1" 2>/dev/null |
		awk '/^Found expected sequence/ { print $NF }' > "$1.hdr"
	end=$(tail -n1 "$1.hdr")
	echo "$start ${end:-0} $maxlen"
}

if [ ! -x "$UEXT4_TEST_SHUTDOWN" ]; then
	[ "$nfail" = 0 ] || fail "$nfail case(s) failed: ${failures[*]}"
	skip "bit flips need the shutdown helper (run through meson test)"
fi

KINDS=(csum3 wrap-nocsum wrap-csum3)
declare -A INFO
log "kernel-written journals, intact"
for kind in "${KINDS[@]}"; do
	kernel_journal "$WORK/base-$kind.img" "$kind"
	INFO[$kind]=$(log_info "$WORK/base-$kind.img")
	read -r s e m <<<"${INFO[$kind]}"
	[ "$s" -gt 0 ] && [ "$e" -gt 0 ] || fail "no log in the kernel-written journal ($kind: start $s, end $e)"
	log "  $kind: log from journal block $s to $e (of $m)$([ "$e" -lt "$s" ] && echo ", wrapped")"
	if check_damaged "kernel-$kind" "$WORK/base-$kind.img"; then
		log "PASS $NPASS_LINE"
	fi
done

# damage_byte BASE OFF IMG - IMG is BASE with the byte at image offset
# OFF damaged: one random bit flipped, or the byte overwritten with another
# random value (from $RANDOM: call it in the current shell). Sets WHAT
# ("bit B (OLD -> NEW)" or "byte OLD -> NEW").
damage_byte() {
	local base=$1 off=$2 img=$3 old new bit
	old=$(od -An -tu1 -j "$off" -N1 "$base" | tr -dc 0-9)
	if ((RANDOM % 2)); then
		bit=$((RANDOM % 8))
		new=$((old ^ (1 << bit)))
		WHAT="bit $bit ($old -> $new)"
	else
		new=$(((old + 1 + RANDOM % 255) % 256))
		WHAT="byte $old -> $new"
	fi
	cp --sparse=always "$base" "$img"
	printf "\\$(printf %03o "$new")" | dd of="$img" bs=1 seek="$off" conv=notrunc status=none
}

log "bit flips in kernel-written journals: seed $SEED, $TRIALS trials (UEXT4_JOURNAL_SEED=$SEED to repeat)"
RANDOM=$SEED
npass=0
bs=4096
for ((t = 1; t <= TRIALS; t++)); do
	kind=${KINDS[$((t % ${#KINDS[@]}))]}
	base=$WORK/base-$kind.img
	read -r s e m <<<"${INFO[$kind]}"
	if ((RANDOM % 2)); then
		# a header block (descriptor, revoke, commit): its first 256
		# bytes hold the header, the first tags, the checksums
		n=$(wc -l < "$base.hdr")
		r=$(((RANDOM << 15 | RANDOM) % n + 1))
		jblk=$(sed -n "${r}p" "$base.hdr")
		byte=$(((RANDOM << 15 | RANDOM) % 256))
	else
		len=$(((e - s + m - 1) % (m - 1) + 1))
		jblk=$((1 + (s - 1 + (RANDOM << 15 | RANDOM) % len) % (m - 1)))
		byte=$(((RANDOM << 15 | RANDOM) % bs))
	fi
	pblk=$(debugfs -R "bmap <8> $jblk" "$base" 2>/dev/null | tr -dc 0-9)
	off=$((pblk * bs + byte))
	img=$WORK/trial.img
	damage_byte "$base" "$off" "$img"
	what=$WHAT
	ctx="trial $t, seed $SEED, $kind, journal block $jblk byte $byte, image offset $off, $what"
	if check_damaged "trial-$t" "$img" "$ctx"; then
		npass=$((npass + 1))
		echo "  trial $t ($kind, journal block $jblk byte $byte, $what): ${NPASS_LINE#*: }"
	fi
done
log "bit flips: $npass of $TRIALS trials passed"

# ---- 3. the journal superblock ----------------------------------------------
# (field helpers: jsb_field, jsb_offset, jsb_get, jsb_set, above)

log "bit flips in the journal superblock: seed $SEED, $SB_TRIALS trials (UEXT4_JOURNAL_SEED=$SEED to repeat)"
RANDOM=$((SEED + 1))
SB_KINDS=(wrap-nocsum csum3 wrap-nocsum wrap-csum3)
declare -A JSB_OFF
for kind in "${KINDS[@]}"; do
	JSB_OFF[$kind]=$(jsb_offset "$WORK/base-$kind.img")
done
npass=0
for ((t = 1; t <= SB_TRIALS; t++)); do
	kind=${SB_KINDS[$((t % ${#SB_KINDS[@]}))]}
	base=$WORK/base-$kind.img
	if ((RANDOM % 2)); then
		byte=$((RANDOM % 0x60))
	else
		byte=$((RANDOM % 1024))
	fi
	field=$(jsb_field "$byte")
	off=$((JSB_OFF[$kind] + byte))
	img=$WORK/trial.img
	damage_byte "$base" "$off" "$img"
	ctx="journal superblock trial $t, seed $SEED, $kind, byte $byte ($field), image offset $off, $WHAT"
	if DESCRIBE=1 check_damaged "jsb-trial-$t" "$img" "$ctx"; then
		npass=$((npass + 1))
		echo "  trial $t ($kind, byte $byte ($field), $WHAT): ${NPASS_LINE#*: }"
	fi
done
log "journal superblock bit flips: $npass of $SB_TRIALS trials passed"

# Targeted edits of the journal superblock without checksums.
base=$WORK/base-wrap-nocsum.img
maxlen=$(jsb_get "$base" 16)
first=$(jsb_get "$base" 20)
seq=$(jsb_get "$base" 24)
start=$(jsb_get "$base" 28)
incompat=$(jsb_get "$base" 40)
jblocks=$(($(debugfs -R 'stat <8>' "$base" 2>/dev/null | awk '/Size: / { print $NF; exit }' | tr -dc 0-9) / 4096))
# a descriptor block later in the log, and its transaction
read -r mid_seq mid_blk < <(debugfs -R logdump "$base" 2>/dev/null |
	awk -v s="$start" '/^Found expected sequence .*descriptor block/ && $NF != s { print $4 + 0, $NF; exit }') || true
log "journal superblock edits (wrap-nocsum: s_first $first, s_maxlen $maxlen, journal inode $jblocks blocks, s_sequence $seq, s_start $start; transaction $mid_seq at block ${mid_blk:-?})"
[ "$jblocks" -gt 0 ] && [ -n "$mid_blk" ] || fail "wrap-nocsum: cannot read the journal inode or its log"

# jsb_edit NAME BYTE VALUE [BYTE VALUE...] - the wrap-nocsum image with
# these journal superblock fields written; check_damaged, and a line
# with what e2fsck and uext4 did. Leaves HOME_A, HOME_B.
jsb_edit() {
	local name=$1 img=$WORK/edit.img desc=''
	shift
	cp --sparse=always "$base" "$img"
	while [ $# -ge 2 ]; do
		jsb_set "$img" "$1" "$2"
		desc="$desc $(jsb_field "$1") = $2"
		shift 2
	done
	HOME_A=0 HOME_B=0
	if DESCRIBE=1 check_damaged "jsb-$name" "$img" "journal superblock edit$desc (wrap-nocsum)"; then
		log "PASS journal superblock$desc: ${NPASS_LINE#*: }"
		return 0
	fi
	return 1
}

# a clean-looking log: whatever else happens, neither replays anything
jsb_edit start-0 28 0 || true
if [ "$HOME_A" != 0 ] || [ "$HOME_B" != 0 ]; then
	log "FAIL s_start = 0: e2fsck wrote $HOME_A blocks home, uext4 $HOME_B; neither may replay anything"
	nfail=$((nfail + 1))
	failures+=("jsb-start-0-home")
fi
jsb_edit start-0-errno 28 0 32 -5 || true
jsb_edit start-last 28 $((maxlen - 1)) || true
jsb_edit start-past-maxlen 28 $((maxlen + 10)) || true
jsb_edit start-mid 28 "$mid_blk" || true
jsb_edit start-mid-seq 28 "$mid_blk" 24 "$mid_seq" || true
jsb_edit maxlen-past-inode 16 $((jblocks * 2)) || true
jsb_edit maxlen-huge 16 0xffffffff || true
jsb_edit first-0 20 0 || true
jsb_edit sequence-plus-1 24 $((seq + 1)) || true
jsb_edit sequence-minus-1 24 $((seq - 1)) || true
jsb_edit blocksize-1024 12 1024 || true
jsb_edit incompat-unknown 40 "$(printf 0x%x $((incompat | 0x80000000)))" || true
jsb_edit nr-users-100 64 100 || true
jsb_edit nr-users-2 64 2 || true
jsb_edit errno-eio 32 -5 || true

# ---- 4. the ext4 superblock's journal fields ---------------------------------
# On the wrap-csum3 image (needs recovery, metadata_csum: debugfs
# rewrites the superblock checksum), with debugfs: the journal inode
# number pointing at the root directory, lost+found, a regular file (a
# small one; one whose inode is a copy of the journal's, as tune2fs made
# /.journal on a mounted ext3), an external journal device named, no or
# an unknown journal backup. A refusal must name the journal. The files
# are written at the end of the inode table (seti), away from the inode
# table blocks the log holds.

base=$WORK/base-wrap-csum3.img
pattern regular 65536 > "$WORK/small.bin"
icount=$(sb_field "$base" "Inode count")
[ -n "$icount" ] || fail "wrap-csum3: no inode count"

# sb_edit NAME DEBUGFS-COMMANDS - the wrap-csum3 image edited by debugfs -w
# (one command a line; @INO@ stands for the inode of the last file
# written), then check_damaged.
sb_edit() {
	local name=$1 cmds=$2 img=$WORK/edit.img ino='' line
	cp --sparse=always "$base" "$img"
	while IFS= read -r line; do
		line=${line//@INO@/$ino}
		debugfs -w -R "$line" "$img" >"$WORK/debugfs.log" 2>&1 ||
			fail "ext4 superblock edit $name: debugfs $line: $(cat "$WORK/debugfs.log")"
		case $line in
		write\ *)
			ino=$(debugfs -R "stat ${line##* }" "$img" 2>/dev/null | awk '/^Inode:/ { print $2; exit }')
			[ -n "$ino" ] || fail "ext4 superblock edit $name: debugfs did not write the file" ;;
		esac
	done <<<"$cmds"
	needs_recovery "$img" || fail "ext4 superblock edit $name: the image no longer needs recovery"
	cmds=${cmds//@INO@/$ino}
	cmds=${cmds//$'\n'/; }
	cmds=${cmds//$WORK\//}
	if REFUSAL_RE=journal DESCRIBE=1 check_damaged "sb-$name" "$img" \
	   "ext4 superblock edit (wrap-csum3): $cmds"; then
		log "PASS ext4 superblock $cmds: ${NPASS_LINE#*: }"
	fi
}

sb_edit journal-inum-root 'ssv journal_inum 2'
sb_edit journal-inum-lost-found 'ssv journal_inum 11'
sb_edit journal-inum-regular "seti <12> $((icount - 24))
write $WORK/small.bin regular
ssv journal_inum @INO@"
sb_edit journal-inum-journal-copy "seti <12> $((icount - 24))
write $WORK/small.bin journal
copy_inode <8> <@INO@>
ssv journal_inum @INO@"
sb_edit journal-dev 'ssv journal_dev 0x0801'
sb_edit backup-type-none 'ssv jnl_backup_type 0'
sb_edit backup-type-unknown 'ssv jnl_backup_type 7'
sb_edit backup-none-inum-root 'ssv jnl_backup_type 0
ssv journal_inum 2'

if [ "$nfail" -gt 0 ]; then
	fail "$nfail case(s) failed: ${failures[*]} (seed $SEED)"
fi
log "all cases passed"
