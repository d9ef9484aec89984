#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-differential: the same seeded sequence of POSIX operations
# (uext4-test-fsops) on kernel ext4 and on uext4 must print byte-identical
# transcripts.
#
# For every seed: a pair of fresh images (same mkfs options and size), one
# mounted by the kernel on a loop device, one by uext4; fsops runs in a new
# directory of each, part of it as the unprivileged uid/gid 65534; both are
# unmounted, the transcripts diffed (first differences shown), and e2fsck
# -fn must be clean on both.
#
# Both mounts use nodev,nosuid (libfuse's defaults, so device nodes fail to
# open the same way), and uext4 gets allow_other so that the unprivileged
# part can reach the mount at all.
#
#   UEXT4_SEEDS="1 2 3 4 5"  seeds      UEXT4_OPS=8000  operations per seed
#   UEXT4_MKFS="-b 4096 -I 256"  mkfs.ext4 options   UEXT4_SIZE=256M
#   UEXT4_DIFF_OPTS=writeback_cache  more uext4 mount options
. "$(dirname "$0")/lib.sh"
require_root
: "${UEXT4_TEST_FSOPS:?needs the fsops helper (run through meson test)}"

SEEDS=${UEXT4_SEEDS:-1 2 3 4 5}
OPS=${UEXT4_OPS:-8000}
SIZE=${UEXT4_SIZE:-256M}
read -r -a MKFS <<< "${UEXT4_MKFS:--b 4096 -I 256}"
UNPRIV=65534

failed=0
for seed in $SEEDS; do
	log "seed $seed: $OPS operations, mkfs ${MKFS[*]}, $SIZE"
	kimg=$(make_image "$SIZE" "${MKFS[@]}")
	uimg=$(make_image "$SIZE" "${MKFS[@]}")
	kmnt=$WORK/kmnt.$seed umnt=$WORK/umnt.$seed
	kout=$WORK/kernel.$seed.txt uout=$WORK/uext4.$seed.txt

	kernel_mount "$kimg" "$kmnt" nodev,nosuid
	mkdir "$kmnt/t"
	timeout -k 10 300 "$UEXT4_TEST_FSOPS" --seed "$seed" --ops "$OPS" \
		--dir "$kmnt/t" --unpriv-uid $UNPRIV --unpriv-gid $UNPRIV > "$kout" ||
		fail "fsops on kernel ext4 failed (seed $seed)"
	kernel_umount "$kmnt"

	mount_uext4 "$uimg" "$umnt" -o "allow_other,nodev,nosuid${UEXT4_DIFF_OPTS:+,$UEXT4_DIFF_OPTS}"
	mkdir "$umnt/t"
	rc=0
	timeout -k 10 300 "$UEXT4_TEST_FSOPS" --seed "$seed" --ops "$OPS" \
		--dir "$umnt/t" --unpriv-uid $UNPRIV --unpriv-gid $UNPRIV > "$uout" || rc=$?
	[ $rc != 124 ] || fuse_abort "$umnt"
	umount_uext4 "$umnt" "$uimg"
	[ $rc = 0 ] || fail "fsops on uext4 failed with $rc (seed $seed)"

	if cmp -s "$kout" "$uout"; then
		log "seed $seed: transcripts identical ($(wc -l < "$kout") lines)"
	else
		failed=1
		echo "seed $seed: transcripts differ (kernel ext4 '<', uext4 '>'):"
		diff "$kout" "$uout" | head -40 || true
		n=$(diff "$kout" "$uout" | grep -c '^[<>]' || true)
		echo "seed $seed: $n differing lines; reproduce with UEXT4_SEEDS=$seed UEXT4_OPS=$OPS"
		if [ -n "${KEEP_WORK:-}" ]; then
			echo "transcripts: $kout $uout"
		fi
	fi
	fsck_clean "$kimg"
	fsck_clean "$uimg"
	rm -f "$kimg" "$uimg"
done
[ $failed = 0 ] || fail "kernel ext4 and uext4 transcripts differ"
log "all seeds identical"
