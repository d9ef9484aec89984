#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-filedata: regular-file data through uext4, compared with kernel ext4.
#
#  1. The same sequence of file operations (O_TRUNC, O_APPEND, O_EXCL,
#     sparse files, truncate down/up, seeded unaligned writes and reads
#     checked against an in-memory model, set-id bits dropped by an
#     unprivileged O_TRUNC) runs on kernel ext4 and on uext4; their
#     outputs must be identical.
#  2. A large file (LARGE_MB, default 300 MiB) is written through a 16 MiB
#     cache (cache_size=16M), so reclaim and the flusher must work; it is
#     read back, and checked again after a remount, and through kernel ext4
#     mounting the uext4 image.
#  3. A manifest (name, size, sha256) of every file is identical before
#     the unmount, after a remount, and under kernel ext4; e2fsck is clean.
#
# SEED=n reproduces the random part; LARGE_MB=n changes the large file.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3 sha256sum runuser

SEED=${SEED:-$RANDOM}
LARGE_MB=${LARGE_MB:-300}
log "seed $SEED, large file ${LARGE_MB} MiB"

cat > "$WORK/ops.py" <<'EOF'
import errno, hashlib, os, random, sys

d, seed = sys.argv[1], int(sys.argv[2])
P = lambda n: os.path.join(d, n)

def out(*a):
    print(*a, flush=True)

def err(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]

def read(n):
    with open(P(n), "rb") as f:
        return f.read()

def sha(b):
    return hashlib.sha256(b).hexdigest()[:16]

# O_TRUNC: shorter content replaces longer; mtime set even on an empty file
with open(P("trunc"), "wb") as f:
    f.write(b"hello world\n" * 1000)
fd = os.open(P("trunc"), os.O_WRONLY | os.O_TRUNC)
os.write(fd, b"hi\n")
os.close(fd)
out("trunc", os.stat(P("trunc")).st_size, read("trunc"))
with open(P("trunc0"), "wb"):
    pass
os.utime(P("trunc0"), (1000000, 1000000))
os.close(os.open(P("trunc0"), os.O_WRONLY | os.O_TRUNC))
out("trunc0 mtime updated", os.stat(P("trunc0")).st_mtime > 1000000)

# write(2) sets mtime
os.utime(P("trunc"), (1000000, 1000000))
with open(P("trunc"), "r+b") as f:
    f.write(b"H")
out("write mtime updated", os.stat(P("trunc")).st_mtime > 1000000, read("trunc"))

# O_APPEND: every write lands at the end, whatever the file position,
# also with two descriptors interleaving
with open(P("app"), "wb") as f:
    f.write(b"start\n")
a = os.open(P("app"), os.O_WRONLY | os.O_APPEND)
b = os.open(P("app"), os.O_WRONLY | os.O_APPEND)
for i in range(50):
    os.lseek(a, 0, os.SEEK_SET)
    os.write(a, b"a%d\n" % i)
    os.write(b, b"b%d" % i * (i % 7 + 1) + b"\n")
os.close(a)
os.close(b)
out("append", os.stat(P("app")).st_size, sha(read("app")))
out("append head", read("app")[:20])

# O_EXCL
out("excl existing", err(lambda: os.open(P("app"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)))
fd = os.open(P("excl"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o640)
os.close(fd)
out("excl new", oct(os.stat(P("excl")).st_mode), os.stat(P("excl")).st_size)

# sparse: a byte at 10 MiB, holes read as zeros, one block allocated
fd = os.open(P("sparse"), os.O_CREAT | os.O_RDWR, 0o644)
os.pwrite(fd, b"x", 10 << 20)
os.fsync(fd)
st = os.fstat(fd)
out("sparse", st.st_size, st.st_blocks, os.pread(fd, 8192, 0) == bytes(8192),
    os.pread(fd, 10, (10 << 20) - 5))
os.close(fd)

# truncate down into a block, then up: the old tail must read as zeros
with open(P("tail"), "wb") as f:
    f.write(b"\xaa" * 20000)
os.truncate(P("tail"), 5000)
os.truncate(P("tail"), 20000)
t = read("tail")
out("tail", len(t), t[:5000] == b"\xaa" * 5000, t[5000:] == bytes(15000))
fd = os.open(P("tail"), os.O_RDWR)
os.fsync(fd)
os.ftruncate(fd, 4097)
os.pwrite(fd, b"z", 12000)
os.close(fd)
t = read("tail")
out("tail2", len(t), t[4096] == 0xaa, t[4097:12000] == bytes(12000 - 4097))

# seeded unaligned writes and reads against a model
rng = random.Random(seed)
model = bytearray()
fd = os.open(P("rand"), os.O_CREAT | os.O_RDWR, 0o644)
for i in range(400):
    off = rng.randrange(0, 3 << 20)
    n = rng.randrange(1, 70000)
    data = rng.randbytes(n)
    if off + n > len(model):
        model.extend(bytes(off + n - len(model)))
    model[off:off + n] = data
    assert os.pwrite(fd, data, off) == n
    if i % 50 == 49:
        os.fsync(fd)
    if i % 7 == 0:
        roff = rng.randrange(0, len(model))
        rn = rng.randrange(1, 200000)
        got = os.pread(fd, rn, roff)
        if got != bytes(model[roff:roff + rn]):
            out("MISMATCH read", i, roff, rn)
    if i == 200:
        # shrink and grow in the middle of the run
        cut = rng.randrange(0, len(model))
        os.ftruncate(fd, cut)
        del model[cut:]
os.close(fd)
got = read("rand")
out("rand", len(got) == len(model), got == bytes(model))
EOF

# manifest DIR: name, size and sha256 of every regular file, sorted
manifest() {
	(cd "$1" && find . -type f -printf '%P\n' | LC_ALL=C sort | while read -r f; do
		printf '%s %s %s\n' "$f" "$(stat -c %s "$f")" "$(sha256sum < "$f" | cut -c1-64)"
	done)
}

# setid DIR: an unprivileged O_TRUNC drops set-user-ID and set-group-ID
setid() {
	mkdir "$1/setid"
	chmod 777 "$1/setid"
	(
	cd "$1/setid"
	touch s g; chmod 6777 s; chmod 2777 g
	runuser -u nobody -- sh -c ': > s; : > g'
	stat -c '%n %a' s g
	touch r; chmod 6777 r; : > r; stat -c '%n %a' r
	)
}

# reference: kernel ext4
kimg=$(make_image 256M -b 4096)
kernel_mount "$kimg" "$WORK/kmnt"
chmod 755 "$WORK" "$WORK/kmnt"
python3 "$WORK/ops.py" "$WORK/kmnt" "$SEED" > "$WORK/kernel.out"
setid "$WORK/kmnt" >> "$WORK/kernel.out"
kernel_umount "$WORK/kmnt"
fsck_clean "$kimg"

img=$(make_image 1G -b 4096)
mnt=$WORK/mnt
mount_uext4 "$img" "$mnt" -o cache_size=16M,allow_other
chmod 755 "$mnt"
python3 "$WORK/ops.py" "$mnt" "$SEED" > "$WORK/uext4.out" || { cat "$WORK/uext4.out"; fail "operations failed on uext4"; }
setid "$mnt" >> "$WORK/uext4.out"
diff -u "$WORK/kernel.out" "$WORK/uext4.out" || fail "uext4 differs from kernel ext4 (seed $SEED)"
log "operations identical to kernel ext4"

# large file through a 16 MiB cache: deterministic data, hashed as written
log "writing ${LARGE_MB} MiB"
want=$(python3 - "$mnt/large" "$SEED" "$LARGE_MB" <<'EOF'
import hashlib, random, sys
path, seed, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed * 7 + 1)
h = hashlib.sha256()
with open(path, "wb") as f:
    for i in range(mb):
        chunk = rng.randbytes(1 << 20)
        h.update(chunk)
        f.write(chunk)
print(h.hexdigest())
EOF
)
[ "$(stat -c %s "$mnt/large")" = $((LARGE_MB << 20)) ] || fail "large file has the wrong size"
got=$(sha256sum < "$mnt/large" | cut -c1-64)
[ "$got" = "$want" ] || fail "large file read back differs"
log "large file read back intact"

manifest "$mnt" > "$WORK/manifest.before"
umount_uext4 "$mnt" "$img"
fsck_clean "$img"

mount_uext4 "$img" "$mnt" -o cache_size=16M
manifest "$mnt" > "$WORK/manifest.remount"
diff -u "$WORK/manifest.before" "$WORK/manifest.remount" || fail "contents changed across a remount"
grep -q "^large $((LARGE_MB << 20)) $want\$" "$WORK/manifest.remount" || fail "large file lost after remount"
umount_uext4 "$mnt" "$img"

kernel_mount "$img" "$WORK/kmnt2" ro
manifest "$WORK/kmnt2" > "$WORK/manifest.kernel"
kernel_umount "$WORK/kmnt2"
diff -u "$WORK/manifest.before" "$WORK/manifest.kernel" || fail "kernel ext4 reads different contents"
log "contents identical after remount and under kernel ext4"

fsck_clean "$img"
log "PASS"
