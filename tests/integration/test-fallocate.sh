#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-fallocate: fallocate(2) in every supported mode, compared with
# kernel ext4: the return code, the size, the SEEK_DATA/SEEK_HOLE map,
# whether mtime changed, the contents, and (under kernel ext4, by FIEMAP)
# the allocated data blocks.
#
# Each case starts from a file of seeded data with holes, applies one
# fallocate call (aligned and unaligned ranges, inside, across and past
# EOF), then optionally writes into the allocated range. The map is taken
# before any read (a read would cache unwritten ranges and turn them into
# "data" for SEEK_DATA on the kernel side). Then the images are unmounted
# and every file is checked again: uext4's image under kernel ext4 must
# look exactly like the kernel's own image. Unsupported modes must give
# EOPNOTSUPP, a read-only mount EROFS; e2fsck is clean on both images.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3

SEED=${SEED:-$RANDOM}
log "seed $SEED"

cat > "$WORK/falloc.py" <<'EOF'
import ctypes, errno, hashlib, os, random, re, subprocess, sys

libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
KEEP, PUNCH, COLLAPSE, ZERO, INSERT, UNSHARE = 0x01, 0x02, 0x08, 0x10, 0x20, 0x40
K = 1024

def fallocate(fd, mode, off, ln):
    if libc.fallocate(fd, mode, off, ln) != 0:
        return errno.errorcode[ctypes.get_errno()]
    return "ok"

def seekmap(fd):
    """[(data, hole), ...] by SEEK_DATA/SEEK_HOLE from 0."""
    out, pos = [], 0
    while True:
        try:
            d = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError as e:
            if e.errno != errno.ENXIO:
                return "ERR " + errno.errorcode[e.errno]
            return out
        h = os.lseek(fd, d, os.SEEK_HOLE)
        out.append((d, h))
        pos = h

def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]

def fiemap_blocks(path):
    """data blocks (written or unwritten) by FIEMAP: kernel mounts only"""
    out = subprocess.run(["filefrag", "-v", "-b4096", path], check=True,
                         capture_output=True, text=True).stdout
    return sum(int(m.group(1)) for m in re.finditer(
        r"^\s*\d+:\s+\d+\.\.\s*\d+:\s+\d+\.\.\s*\d+:\s+(\d+):", out, re.M))

def describe(path):
    """what must match kernel ext4; not st_blocks, which counts extent
    tree blocks and so depends on where the allocator put the data"""
    fd = os.open(path, os.O_RDONLY)
    st = os.fstat(fd)
    m = seekmap(fd)
    os.close(fd)
    mt = "kept" if int(st.st_mtime) == 1000000 else "changed"
    return "size=%d mtime=%s map=%s sha=%s" % (st.st_size, mt, m, digest(path))

# name: (mode, offset, length, write-after (offset, length) or None)
CASES = {
    "alloc_extend":      (0, 300 * K, 100 * K, None),
    "alloc_inside_hole": (0, 140 * K, 40 * K, None),
    "alloc_unaligned":   (0, 1000, 5000, None),
    "alloc_then_write":  (0, 300 * K, 64 * K, (310 * K + 7, 3000)),
    "keep_past_eof":     (KEEP, 256 * K, 1024 * K, None),
    "keep_hole":         (KEEP, 130 * K, 50 * K, (150 * K + 3, 100)),
    "punch_aligned":     (PUNCH | KEEP, 64 * K, 64 * K, None),
    "punch_unaligned":   (PUNCH | KEEP, 1000, 10000, None),
    "punch_across_eof":  (PUNCH | KEEP, 200 * K + 5, 200 * K, None),
    "punch_past_eof":    (PUNCH | KEEP, 400 * K, 64 * K, None),
    "punch_hole_region": (PUNCH | KEEP, 128 * K, 64 * K, None),
    "punch_then_write":  (PUNCH | KEEP, 0, 256 * K, (4 * K + 1, 5)),
    "zero_aligned":      (ZERO, 32 * K, 64 * K, None),
    "zero_unaligned":    (ZERO, 333, 12345, None),
    "zero_extend":       (ZERO, 250 * K, 50 * K, None),
    "zero_keep_past":    (ZERO | KEEP, 250 * K, 50 * K, None),
    "zero_then_write":   (ZERO, 8 * K, 100 * K, (20 * K, 9000)),
}

def setup(path, rng):
    """256 KiB: data, a hole at [128K, 192K), data; fsync'd."""
    fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_RDWR, 0o644)
    os.pwrite(fd, rng.randbytes(128 * K), 0)
    os.pwrite(fd, rng.randbytes(64 * K), 192 * K)
    os.fsync(fd)
    os.close(fd)
    os.utime(path, (1000000, 1000000))

def run(d, seed):
    for name, (mode, off, ln, wr) in sorted(CASES.items()):
        rng = random.Random("%d-%s" % (seed, name))
        path = os.path.join(d, name)
        setup(path, rng)
        fd = os.open(path, os.O_RDWR)
        res = fallocate(fd, mode, off, ln)
        if wr:
            os.pwrite(fd, rng.randbytes(wr[1]), wr[0])
        os.fsync(fd)
        os.close(fd)
        print(name, res, describe(path))
    # unsupported modes: uext4 only (kernel ext4 supports some of them)
    path = os.path.join(d, "unsupported")
    setup(path, random.Random(seed))
    fd = os.open(path, os.O_RDWR)
    for mode in (PUNCH, COLLAPSE, INSERT, UNSHARE, ZERO | PUNCH, 0x80):
        print("unsupported", hex(mode), fallocate(fd, mode, 4 * K, 4 * K))
    print("bad length", fallocate(fd, 0, 0, 0), fallocate(fd, 0, -4096, 4096))
    print("too big", fallocate(fd, 0, 1 << 44, 4096), fallocate(fd, KEEP, (1 << 44) - 4096, 8192))
    os.close(fd)
    os.unlink(path)

def check(d, how):
    for name in sorted(CASES):
        path = os.path.join(d, name)
        if how == "blocks":
            print(name, "st_blocks=%d" % os.stat(path).st_blocks)
        elif how == "fiemap":
            print(name, describe(path), "data_blocks=%d" % fiemap_blocks(path))
        else:
            print(name, describe(path))

if sys.argv[1] == "run":
    run(sys.argv[2], int(sys.argv[3]))
else:
    check(sys.argv[2], sys.argv[3])
EOF

run_cases() { python3 "$WORK/falloc.py" run "$1" "$SEED"; }
check_cases() { python3 "$WORK/falloc.py" check "$1" "$2"; }

# kernel ext4 reference (same geometry as the uext4 image)
kimg=$(make_image 64M -b 4096)
kernel_mount "$kimg" "$WORK/kmnt"
run_cases "$WORK/kmnt" | grep -v '^unsupported\|^bad length' > "$WORK/kernel.run"
kernel_umount "$WORK/kmnt"
kernel_mount "$kimg" "$WORK/kmnt" ro
check_cases "$WORK/kmnt" fiemap > "$WORK/kernel.check"
kernel_umount "$WORK/kmnt"
fsck_clean "$kimg"

img=$(make_image 64M -b 4096)
mnt=$WORK/mnt
mount_uext4 "$img" "$mnt"
run_cases "$mnt" > "$WORK/uext4.all" || { cat "$WORK/uext4.all"; fail "cases failed on uext4"; }
grep -v '^unsupported\|^bad length' "$WORK/uext4.all" > "$WORK/uext4.run"
diff -u "$WORK/kernel.run" "$WORK/uext4.run" || fail "uext4 differs from kernel ext4 (seed $SEED)"
log "all modes identical to kernel ext4"

grep '^unsupported' "$WORK/uext4.all" | grep -v ' ENOTSUP$' && fail "unsupported mode not refused with EOPNOTSUPP"
[ "$(grep -c '^unsupported .* ENOTSUP$' "$WORK/uext4.all")" = 6 ] || fail "unsupported modes not all tried"
grep -qx 'bad length EINVAL EINVAL' "$WORK/uext4.all" || fail "zero or negative range not EINVAL: $(grep '^bad' "$WORK/uext4.all")"
umount_uext4 "$mnt" "$img"
fsck_clean "$img"

# what uext4 wrote, seen by uext4 again and by kernel ext4 (which also
# counts the allocated data blocks through FIEMAP; uext4 must report the
# same st_blocks as the kernel does for the same image)
mount_uext4 "$img" "$mnt"
check_cases "$mnt" plain > "$WORK/uext4.check"
check_cases "$mnt" blocks > "$WORK/uext4.blocks"
umount_uext4 "$mnt" "$img"
grep -v '^unsupported\|^bad length' "$WORK/kernel.check" | sed 's/ data_blocks=.*//' > "$WORK/kernel.plain"
diff -u "$WORK/kernel.plain" "$WORK/uext4.check" || fail "after remount uext4 differs from kernel ext4"
kernel_mount "$img" "$WORK/kmnt" ro
check_cases "$WORK/kmnt" fiemap > "$WORK/uext4-kernel.check"
check_cases "$WORK/kmnt" blocks > "$WORK/uext4-kernel.blocks"
kernel_umount "$WORK/kmnt"
diff -u "$WORK/kernel.check" "$WORK/uext4-kernel.check" || fail "kernel ext4 reads uext4's image differently"
diff -u "$WORK/uext4-kernel.blocks" "$WORK/uext4.blocks" || fail "uext4 reports other st_blocks than kernel ext4 for its image"
log "persisted state identical under uext4 and kernel ext4"

# read-only mount: EROFS
mount_uext4 "$img" "$mnt" -o ro
out=$(python3 - "$mnt/alloc_extend" <<'EOF'
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
try:
    fd = os.open(sys.argv[1], os.O_RDWR)
except OSError as e:
    print(errno.errorcode[e.errno]); sys.exit(0)
r = libc.fallocate(fd, 0, 0, 1 << 20)
print("ok" if r == 0 else errno.errorcode[ctypes.get_errno()])
EOF
)
[ "$out" = EROFS ] || fail "fallocate on a read-only mount: $out, expected EROFS"
umount_uext4 "$mnt" "$img"

fsck_clean "$img"
log "PASS"
