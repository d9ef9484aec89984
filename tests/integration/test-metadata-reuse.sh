#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Blocks cycling between metadata and file data. Directory blocks are freed
# (rmdir) and reused for file data written with O_DIRECT by the data
# engine, and data blocks are freed and reused for directories, several
# times over. Metadata goes through the same engine as the data (journal/
# io_manager), so the host never holds stale cached copies: fsync must
# succeed, the host must log no page-cache invalidation failure for the
# image, the data must read back intact after a remount, and e2fsck -fn
# must be clean.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3

img=$(make_image 64M)
mnt=$WORK/mnt
mount_uext4 "$img" "$mnt"
dmesg_before=$(dmesg 2>/dev/null | grep -c "File: $img" || true)

python3 - "$mnt" <<'PY' || fail "workload failed (fsync EIO?)"
import hashlib, os, random, sys
m = sys.argv[1]
rnd = random.Random(7)
sums = {}
for r in range(3):
    os.mkdir(f"{m}/d")
    for i in range(400):
        os.mkdir(f"{m}/d/s{i}")
        with open(f"{m}/d/s{i}/f", "w") as f:
            f.write("y")
    for i in range(400):
        os.unlink(f"{m}/d/s{i}/f")
        os.rmdir(f"{m}/d/s{i}")
    os.rmdir(f"{m}/d")
    name = f"{m}/big{r}"
    fd = os.open(name, os.O_CREAT | os.O_WRONLY, 0o644)
    h = hashlib.sha256()
    for k in range(12):
        block = rnd.randbytes(1 << 20)
        h.update(block)
        os.write(fd, block)
    os.fsync(fd)
    os.close(fd)
    sums[name] = h.hexdigest()
    if r < 2:
        os.unlink(name)
        del sums[name]
with open(f"{m}/sums", "w") as f:
    for k, v in sums.items():
        f.write(f"{v}  {os.path.basename(k)}\n")
PY
umount_uext4 "$mnt" "$img"
dmesg_after=$(dmesg 2>/dev/null | grep -c "File: $img" || true)
[ "$dmesg_before" = "$dmesg_after" ] ||
	fail "host page-cache invalidation failures logged for $img"
fsck_clean "$img"

mount_uext4 "$img" "$mnt" -o ro
(cd "$mnt" && sha256sum -c --quiet sums) || fail "data changed after remount"
umount_uext4 "$mnt" "$img"
fsck_clean "$img"
log "metadata/data block reuse: ok"
