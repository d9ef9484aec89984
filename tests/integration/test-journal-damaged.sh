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
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/journal-lib.sh"
require_root
require_cmd debugfs dumpe2fs e2fsck mke2fs cmp gzip od timeout
: "${UEXT4_TEST_SHUTDOWN:=${UEXT4_BUILD:-}/tests/integration/uext4-test-shutdown}"

CORPUS=$UEXT4_SHARED/corpus/e2fsprogs-images
if [ "${UEXT4_SANITIZER_BUILD:-0}" = 1 ]; then
	TRIALS=${UEXT4_JOURNAL_TRIALS:-24}
else
	TRIALS=${UEXT4_JOURNAL_TRIALS:-40}
fi
SEED=${UEXT4_JOURNAL_SEED:-$(( ($(date +%s) ^ $$) % 1000000 ))}

nfail=0
failures=()

# check_damaged NAME ORIG [CONTEXT] - copies A (e2fsck replay), B (uext4
# read-write) and R (uext4 read-only) of ORIG; the acceptance rules above.
# CONTEXT is printed with a failure (the trial, offset and bit).
check_damaged() {
	local name=$1 orig=$2 ctx=${3:-} dir=$WORK/$1 why=() rcA=0 rcB mB res
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

	if [ "$rcB" = 0 ] && [ "$mB" = 1 ]; then
		res="mounted"
		cp --sparse=always "$dir/A" "$dir/A2"
		run_uext4 "$dir/A2" "$dir/mnt" "$dir/A2.log"
		sanitizer_clean "$dir/A2.log" || why+=("sanitizer report (mount of A)")
		if [ "$RC" = 0 ] && [ "$MOUNTED" = 1 ]; then
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

	cp --sparse=always "$orig" "$dir/R"
	LIST_TO=$dir/R run_uext4 "$dir/R" "$dir/mnt" "$dir/R.log" -o ro
	sanitizer_clean "$dir/R.log" || why+=("sanitizer report (ro mount)")
	case $RC in
	0) [ "$MOUNTED" = 1 ] || why+=("ro mount: exit 0 but never mounted") ;;
	3) [ -s "$dir/R.log" ] || why+=("ro mount refused without a message") ;;
	*) why+=("ro mount: $(status_text "$RC"): $(head -c 300 "$dir/R.log")") ;;
	esac
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
		NPASS_LINE="$name: e2fsck exit $rcA, uext4 $(status_text "$rcB") ($res)"
		rm -rf "$dir"
		return 0
	fi
	log "FAIL $name${ctx:+ ($ctx)}: $(IFS=';'; echo "${why[*]}")"
	sed 's/^/    /' "$dir/cmp.txt"
	echo "    e2fsck: $(grep -v '^e2fsck 1' "$dir/A.log" | head -n 5 | tr '\n' ' ')"
	echo "    uext4:  $(head -n 5 "$dir/B.log" | tr '\n' ' ')"
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
	old=$(od -An -tu1 -j "$off" -N1 "$base" | tr -dc 0-9)
	if ((RANDOM % 2)); then
		bit=$((RANDOM % 8))
		new=$((old ^ (1 << bit)))
		what="bit $bit ($old -> $new)"
	else
		new=$(((old + 1 + RANDOM % 255) % 256))
		what="byte $old -> $new"
	fi
	img=$WORK/trial.img
	cp --sparse=always "$base" "$img"
	printf "\\$(printf %03o "$new")" | dd of="$img" bs=1 seek="$off" conv=notrunc status=none
	ctx="trial $t, seed $SEED, $kind, journal block $jblk byte $byte, image offset $off, $what"
	if check_damaged "trial-$t" "$img" "$ctx"; then
		npass=$((npass + 1))
		echo "  trial $t ($kind, journal block $jblk byte $byte, $what): ${NPASS_LINE#*: }"
	fi
done
log "bit flips: $npass of $TRIALS trials passed"

if [ "$nfail" -gt 0 ]; then
	fail "$nfail case(s) failed: ${failures[*]} (seed $SEED)"
fi
log "all cases passed"
