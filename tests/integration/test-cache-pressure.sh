#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-cache-pressure: many files written at once through a small cache.
#
# With cache_size=16M, WRITERS processes (default 4) each write a
# FILE_MB-MiB file (default 48) in random-sized chunks, rewrite random
# ranges of it, and read random ranges back against an in-memory model,
# while READERS processes re-read a file written beforehand and check it.
# Dirty data far above the cache size forces reclaim, the flusher and
# writer throttling to work together. Every file is verified after the
# writers finish, after a remount, and under kernel ext4; e2fsck is clean.
#
# SEED=n reproduces the data and the operation sequence.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3

SEED=${SEED:-$RANDOM}
WRITERS=${WRITERS:-4}
READERS=${READERS:-2}
FILE_MB=${FILE_MB:-48}
log "seed $SEED, $WRITERS writers x ${FILE_MB} MiB, $READERS readers"

cat > "$WORK/pressure.py" <<'EOF'
import hashlib, os, random, sys
from multiprocessing import Process, Queue

d, seed, writers, readers, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
step = sys.argv[6]
MB = 1 << 20

def base(i, n):
    return random.Random("%d-base-%d" % (seed, i)).randbytes(n)

def model(i):
    """contents of writer i's file after its run (replayed from the seed)"""
    rng = random.Random("%d-ops-%d" % (seed, i))
    m = bytearray(base(i, mb * MB))
    for _ in range(200):
        off = rng.randrange(0, len(m) - 1)
        n = min(rng.randrange(1, 300000), len(m) - off)
        m[off:off + n] = rng.randbytes(n)
        rng.randrange(0, len(m))            # read offset, see writer()
    return bytes(m)

def writer(i, q):
    try:
        path = os.path.join(d, "w%d" % i)
        data = base(i, mb * MB)
        rng = random.Random("%d-chunks-%d" % (seed, i))
        fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_RDWR, 0o644)
        pos = 0
        while pos < len(data):
            n = min(rng.randrange(4096, MB + 1), len(data) - pos)
            got = os.write(fd, data[pos:pos + n])
            if got != n:
                q.put("writer %d: write of %d at %d returned %d" % (i, n, pos, got))
                return
            pos += n
        rng = random.Random("%d-ops-%d" % (seed, i))
        m = bytearray(data)
        for k in range(200):
            off = rng.randrange(0, len(m) - 1)
            n = min(rng.randrange(1, 300000), len(m) - off)
            buf = rng.randbytes(n)
            got = os.pwrite(fd, buf, off)
            if got != n:
                q.put("writer %d: pwrite of %d at %d returned %d" % (i, n, off, got))
                return
            m[off:off + n] = buf
            roff = rng.randrange(0, len(m))
            if os.pread(fd, 65536, roff) != bytes(m[roff:roff + 65536]):
                q.put("writer %d: read at %d differs after op %d" % (i, roff, k))
                return
        os.close(fd)
        q.put(None)
    except Exception as e:
        q.put("writer %d: %r" % (i, e))

def reader(i, q, want):
    try:
        path = os.path.join(d, "ref")
        for k in range(6):
            with open(path, "rb") as f:
                h = hashlib.sha256()
                while True:
                    b = f.read(rng_size(i, k))
                    if not b:
                        break
                    h.update(b)
            if h.hexdigest() != want:
                q.put("reader %d: pass %d read different data" % (i, k))
                return
        q.put(None)
    except Exception as e:
        q.put("reader %d: %r" % (i, e))

def rng_size(i, k):
    return [4096, 65536, 131072, 1000000, 7777, 262144][(i + k) % 6]

def ref_data():
    return random.Random("%d-ref" % seed).randbytes(32 * MB)

def verify():
    bad = 0
    for i in range(writers):
        with open(os.path.join(d, "w%d" % i), "rb") as f:
            got = f.read()
        if got != model(i):
            print("w%d differs (%d bytes)" % (i, len(got)), flush=True)
            bad += 1
    with open(os.path.join(d, "ref"), "rb") as f:
        if f.read() != ref_data():
            print("ref differs", flush=True)
            bad += 1
    return bad

if step == "run":
    ref = ref_data()
    with open(os.path.join(d, "ref"), "wb") as f:
        f.write(ref)
    want = hashlib.sha256(ref).hexdigest()
    q = Queue()
    procs = [Process(target=writer, args=(i, q)) for i in range(writers)]
    procs += [Process(target=reader, args=(i, q, want)) for i in range(readers)]
    for p in procs:
        p.start()
    errors = [e for e in (q.get() for _ in procs) if e]
    for p in procs:
        p.join()
    for e in errors:
        print(e, flush=True)
    if errors:
        sys.exit(1)
sys.exit(1 if verify() else 0)
EOF

img=$(make_image 1G -b 4096)
mnt=$WORK/mnt
args=("$SEED" "$WRITERS" "$READERS" "$FILE_MB")
mount_uext4 "$img" "$mnt" -o cache_size=16M
python3 "$WORK/pressure.py" "$mnt" "${args[@]}" run || fail "concurrent writers under cache pressure (seed $SEED)"
log "all files correct while mounted"
umount_uext4 "$mnt" "$img"
fsck_clean "$img"

mount_uext4 "$img" "$mnt" -o cache_size=16M
python3 "$WORK/pressure.py" "$mnt" "${args[@]}" verify || fail "files differ after remount (seed $SEED)"
umount_uext4 "$mnt" "$img"

kernel_mount "$img" "$WORK/kmnt" ro
python3 "$WORK/pressure.py" "$WORK/kmnt" "${args[@]}" verify || fail "kernel ext4 reads different data (seed $SEED)"
kernel_umount "$WORK/kmnt"

fsck_clean "$img"
log "PASS"
