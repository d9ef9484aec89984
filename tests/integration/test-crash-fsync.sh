#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Durability of fsync: files written and fsync'd must survive the daemon
# being killed (SIGKILL, no unmount, no flush) right after the last fsync
# returns. Round 1 fsyncs only the files (like ext4, uext4's fsync makes
# the new names durable with them); rounds 2 and 3 also fsync the
# directory. After the crash the image is repaired with e2fsck -fy
# (there is no journal yet: unflushed metadata of other files may need
# repair) and read by kernel ext4: every fsync'd file is there, whole.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3

for round in 1 2 3; do
	img=$(make_image 128M)
	mnt=$WORK/mnt
	mount_uext4 "$img" "$mnt"
	pid=$(daemon_pids "$img" | head -1)
	[ -n "$pid" ] || fail "no daemon pid"
	python3 - "$mnt" "$WORK/ref" "$round" <<'PY' || fail "workload failed"
import os, random, sys
mnt, ref, rnd = sys.argv[1], sys.argv[2], random.Random(int(sys.argv[3]))
os.makedirs(ref, exist_ok=True)
os.mkdir(f"{mnt}/d")
for i in range(20):
    data = rnd.randbytes(rnd.randrange(1, 3 << 20))
    name = f"d/f{i}"
    with open(f"{mnt}/{name}", "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    with open(f"{ref}/f{i}", "wb") as f:
        f.write(data)
    # noise that is never fsync'd: may be lost, must not hurt the rest
    with open(f"{mnt}/noise{i}", "wb") as f:
        f.write(rnd.randbytes(65536))
if int(sys.argv[3]) > 1:
    dfd = os.open(f"{mnt}/d", os.O_RDONLY)
    os.fsync(dfd)
    os.close(dfd)
PY
	# crash: no unmount, no flush
	kill -KILL "$pid"
	fuse_abort "$mnt"
	umount -l "$mnt" 2>/dev/null || true
	wait_daemon_exit "$img" 30
	e2fsck -fy "$img" > "$WORK/fsck.log" 2>&1 || [ $? -le 2 ] ||
		fail "e2fsck -fy could not repair: $(tail -5 "$WORK/fsck.log")"
	fsck_clean "$img"
	kernel_mount "$img" "$WORK/k" ro
	for i in $(seq 0 19); do
		cmp "$WORK/k/d/f$i" "$WORK/ref/f$i" ||
			fail "round $round: fsync'd file d/f$i lost or changed after a crash"
	done
	kernel_umount "$WORK/k"
	rm -rf "$WORK/ref"
	log "round $round: 20 fsync'd files intact after SIGKILL"
done
