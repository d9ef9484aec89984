#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-fsx: model-based random file operations (uext4-test-fsx) on uext4,
# with an unmount + mount in the middle of each run; e2fsck -fn afterwards.
#
#   UEXT4_FSX_SEEDS="1 2"  seeds       UEXT4_FSX_OPS=50000  operations per seed
#   UEXT4_FSX_ARGS=...     extra uext4 mount options (e.g. -o writeback_cache)
. "$(dirname "$0")/lib.sh"
require_root
: "${UEXT4_TEST_FSX:?needs the fsx helper (run through meson test)}"

SEEDS=${UEXT4_FSX_SEEDS:-1 2}
OPS=${UEXT4_FSX_OPS:-50000}
read -r -a ARGS <<< "${UEXT4_FSX_ARGS:-}"

for seed in $SEEDS; do
	log "fsx seed $seed: $OPS operations"
	img=$(make_image 256M -b 4096 -I 256)
	mnt=$WORK/mnt.$seed
	mount_uext4 "$img" "$mnt" "${ARGS[@]}"
	mkdir "$mnt/t"

	# The remount command fsx runs halfway (every fd closed, cwd at /).
	cat > "$WORK/remount.$seed.sh" <<EOS
#!/usr/bin/env bash
set -e
umount "$mnt"
for i in \$(seq 1200); do
	pgrep -f -- "$UEXT4 .*$img" >/dev/null || break
	sleep 0.1
done
if pgrep -f -- "$UEXT4 .*$img" >/dev/null; then
	echo "remount: daemon for $img did not exit" >&2
	exit 1
fi
if ! out=\$(e2fsck -fn "$img" 2>&1); then
	echo "\$out" >&2
	echo "remount: image not clean after unmount" >&2
	exit 1
fi
"$UEXT4" ${ARGS[*]} "$img" "$mnt"
mountpoint -q "$mnt"
EOS
	chmod +x "$WORK/remount.$seed.sh"

	rc=0
	timeout -k 10 400 "$UEXT4_TEST_FSX" --seed "$seed" --ops "$OPS" \
		--dir "$mnt/t" --remount-cmd "$WORK/remount.$seed.sh" || rc=$?
	[ $rc != 124 ] || fuse_abort "$mnt"
	if mountpoint -q "$mnt"; then
		umount_uext4 "$mnt" "$img"
	fi
	[ $rc = 0 ] || fail "fsx seed $seed failed (exit $rc); reproduce with UEXT4_FSX_SEEDS=$seed UEXT4_FSX_OPS=$OPS"
	fsck_clean "$img"
	rm -f "$img"
done
log "fsx passed"
