#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-enospc: a full file system.
#
# On a 32 MiB image: a file written and fsync'd first; then one file grows
# until write(2) fails — it must fail with ENOSPC (not EIO, not at
# writeback: fsync of what was accepted succeeds), writes after an fsync
# and a new file's writes too, fallocate past the free space gives ENOSPC, while
# overwriting allocated blocks still works. Every accepted byte must read
# back, before and after a remount; removing the big file frees the space
# for new writes; e2fsck is clean after each unmount.
#
# SEED=n reproduces the data.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3

SEED=${SEED:-$RANDOM}
log "seed $SEED"

cat > "$WORK/enospc.py" <<'EOF'
import ctypes, errno, hashlib, os, random, sys

libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
d, seed, step = sys.argv[1], int(sys.argv[2]), sys.argv[3]
P = lambda n: os.path.join(d, n)
MB = 1 << 20

def pattern(name, n):
    return random.Random("%d-%s" % (seed, name)).randbytes(n)

def sha(b):
    return hashlib.sha256(b).hexdigest()

def read(name):
    with open(P(name), "rb") as f:
        return f.read()

def check(cond, msg):
    if not cond:
        print("FAIL:", msg, flush=True)
        sys.exit(1)

def write_all(fd, data):
    """write until done or an error; (bytes accepted, errno name or None)"""
    done = 0
    while done < len(data):
        try:
            n = os.write(fd, data[done:])
        except OSError as e:
            return done, errno.errorcode[e.errno]
        check(n > 0, "write returned 0")
        done += n
    return done, None

if step == "fill":
    keep = pattern("keep", 4 * MB)
    with open(P("keep"), "wb") as f:
        f.write(keep)
        os.fsync(f.fileno())
    big = pattern("big", 64 * MB)
    fd = os.open(P("big"), os.O_CREAT | os.O_WRONLY, 0o644)
    accepted, err = write_all(fd, big)
    print("big stopped with", err, flush=True)
    check(err == "ENOSPC", "filling write failed with %s, not ENOSPC" % err)
    check(accepted > 8 * MB, "only %d bytes fit" % accepted)
    # what was accepted must reach the disk without error; that may free
    # reserved space, so write on until ENOSPC again
    os.fsync(fd)
    n, err2 = write_all(fd, big[accepted:])
    check(err2 == "ENOSPC", "second filling write: %s" % err2)
    accepted += n
    os.fsync(fd)
    os.close(fd)
    fd = os.open(P("other"), os.O_CREAT | os.O_WRONLY, 0o644)
    other_n, err3 = write_all(fd, pattern("other", 2 * MB))
    check(err3 == "ENOSPC", "write to a new file: %s" % err3)
    os.fsync(fd)
    os.close(fd)
    fd = os.open(P("keep"), os.O_RDWR)
    r = libc.fallocate(fd, 1, 8 * MB, 64 * MB)  # KEEP_SIZE: a partial success keeps the size
    check(r != 0 and ctypes.get_errno() == errno.ENOSPC,
          "fallocate past the free space: %s" % (r or errno.errorcode[ctypes.get_errno()]))
    # overwriting allocated blocks needs no space
    os.pwrite(fd, pattern("overwrite", 1 * MB), 1 * MB)
    os.fsync(fd)
    os.close(fd)
    st = os.statvfs(d)
    check(st.f_bavail * st.f_frsize < 1 * MB, "full, yet %d bytes available" % (st.f_bavail * st.f_frsize))
    with open(os.path.join(sys.argv[4], "accepted"), "w") as f:
        f.write("%d %d\n" % (accepted, other_n))
    print("accepted", accepted, flush=True)

if step in ("fill", "verify"):
    with open(os.path.join(sys.argv[4], "accepted")) as f:
        accepted, other = map(int, f.read().split())
    keep = bytearray(pattern("keep", 4 * MB))
    keep[1 * MB:2 * MB] = pattern("overwrite", 1 * MB)
    check(read("keep") == bytes(keep), "keep differs")
    got = read("big")
    check(len(got) == accepted, "big has %d bytes, %d accepted" % (len(got), accepted))
    check(got == pattern("big", 64 * MB)[:accepted], "big differs")
    got = read("other")
    check(len(got) == other and got == pattern("other", 2 * MB)[:other], "other differs")
    print("verified", flush=True)

if step == "free":
    os.unlink(P("big"))
    os.unlink(P("other"))
    with open(P("after"), "wb") as f:
        f.write(pattern("after", 8 * MB))
        os.fsync(f.fileno())
    check(read("after") == pattern("after", 8 * MB), "after differs")
    print("space reused", flush=True)
EOF

img=$(make_image 32M -b 4096)
mnt=$WORK/mnt
mount_uext4 "$img" "$mnt"
python3 "$WORK/enospc.py" "$mnt" "$SEED" fill "$WORK" || fail "filling the file system"
umount_uext4 "$mnt" "$img"
fsck_clean "$img"

mount_uext4 "$img" "$mnt"
python3 "$WORK/enospc.py" "$mnt" "$SEED" verify "$WORK" || fail "data lost after remount"
python3 "$WORK/enospc.py" "$mnt" "$SEED" free "$WORK" || fail "space not reusable"
umount_uext4 "$mnt" "$img"
fsck_clean "$img"
log "PASS"
