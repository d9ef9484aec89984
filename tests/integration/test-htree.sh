#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-htree: big directories through uext4. A linear directory that
# outgrows its first block becomes an htree (EXT2_INDEX_FL, dx_root, then a
# second index level as it grows); names are found through the index and
# removed through it. Prints create, lookup (stat of every name after a
# remount, so that every lookup reaches the daemon), readdir and unlink
# rates (informational, no timed assertion). Checks: every name found, the
# readdir listing equals the created set, the kernel reads the directory
# uext4 built, e2fsck -fn is clean after each phase. Also: 1 KiB blocks with
# and without metadata_csum, random-order removal, and a malformed index
# (lookups fall back to a linear scan; with checksums a damaged leaf gives
# EUCLEAN for that directory only).
#
#   HTREE_ENTRIES=100000   entries in the big directory
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3 debugfs

# The sanitizer build (scripts/test.sh sets UEXT4_SANITIZER_BUILD) checks the
# same paths with a two-level tree of 20,000 entries; the normal build does
# the full 100,000.
if [ -n "${UEXT4_SANITIZER_BUILD:-}" ]; then
	N=${HTREE_ENTRIES:-20000}
else
	N=${HTREE_ENTRIES:-100000}
fi
mnt=$WORK/mnt
kmnt=$WORK/kmnt

# names OP DIR COUNT [PREFIX] - create/stat/unlink/missing COUNT names in
# DIR, print the rate. Fails on the first error.
names() {
	python3 - "$@" <<'EOF'
import os, sys, time
op, d, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
prefix = sys.argv[4] if len(sys.argv) > 4 else "entry-"
order = list(range(n))
if op == "unlink-random":
    import random
    seed = int(os.environ.get("SEED", "1"))
    print("seed", seed)
    random.Random(seed).shuffle(order)
t = time.monotonic()
for i in order:
    p = os.path.join(d, "%s%07d-%s" % (prefix, i, "x" * (i % 37)))
    if op == "create":
        os.mknod(p, 0o644 | 0o100000)
    elif op == "stat":
        os.lstat(p)
    elif op in ("unlink", "unlink-random"):
        os.unlink(p)
    elif op == "missing":
        try:
            os.lstat(p)
        except FileNotFoundError:
            continue
        sys.exit("still there: " + p)
dt = max(time.monotonic() - t, 1e-9)
print("%-8s %7d entries %8.2f s %9.0f /s" % (op, n, dt, n / dt))
EOF
}

# listing_ok DIR COUNT [PREFIX] - readdir of DIR is exactly . .. and the names.
listing_ok() {
	python3 - "$@" <<'EOF'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
prefix = sys.argv[3] if len(sys.argv) > 3 else "entry-"
want = {"%s%07d-%s" % (prefix, i, "x" * (i % 37)) for i in range(n)}
t = time.monotonic()
got = os.listdir(d)
dt = max(time.monotonic() - t, 1e-9)
print("%-8s %7d entries %8.2f s %9.0f /s" % ("readdir", len(got), dt, len(got) / dt))
if len(got) != len(set(got)):
    sys.exit("duplicate names in readdir")
if set(got) != want:
    sys.exit("readdir differs: %d missing, %d extra" %
             (len(want - set(got)), len(set(got) - want)))
EOF
}

# dir_flags IMG PATH - the inode flags of PATH (hex) as debugfs prints them.
dir_flags() {
	debugfs -R "stat $2" "$1" 2>/dev/null | sed -n 's/.*Flags: \(0x[0-9a-f]*\).*/\1/p' | head -1
}

is_indexed() {
	local f
	f=$(dir_flags "$1" "$2")
	[ -n "$f" ] && (( f & 0x1000 ))
}

# ---- 1. the big directory (4 KiB blocks, metadata_csum) -------------------
log "big directory: $N entries"
img=$(make_image 2G -N $((N + 10000)))
mount_uext4 "$img" "$mnt"
mkdir "$mnt/big"
names create "$mnt/big" "$N"
umount_uext4 "$mnt" "$img"
fsck_clean "$img"
is_indexed "$img" /big || fail "/big is not indexed after $N creates"
levels=$(debugfs -R "htree_dump /big" "$img" 2>/dev/null | sed -n 's/.*Indirect levels: //p' | head -1)
log "htree indirect levels: $levels"
if [ "$N" -ge 60000 ] && [ "${levels:-0}" -lt 1 ]; then
	fail "expected a two-level htree for $N entries"
fi

mount_uext4 "$img" "$mnt"
names stat "$mnt/big" "$N"
names missing "$mnt/big" 200 "absent-"
listing_ok "$mnt/big" "$N"
umount_uext4 "$mnt" "$img"

# the kernel reads what uext4 built
kernel_mount "$img" "$kmnt" ro
names stat "$kmnt/big" "$N" >/dev/null
[ "$(ls -f "$kmnt/big" | wc -l)" -eq $((N + 2)) ] || fail "kernel sees another entry count"
kernel_umount "$kmnt"

mount_uext4 "$img" "$mnt"
names unlink "$mnt/big" "$N"
[ "$(ls -f "$mnt/big" | wc -l)" -eq 2 ] || fail "entries left after unlink"
rmdir "$mnt/big"
umount_uext4 "$mnt" "$img"
fsck_clean "$img"

# ---- 2. small blocks, with and without checksums, random removal ----------
for opts in "-b 1024" "-b 1024 -O ^metadata_csum" "-b 4096 -O ^metadata_csum,^dir_nlink"; do
	log "mkfs $opts: 3000 entries, half removed in random order"
	# shellcheck disable=SC2086
	img=$(make_image 256M $opts -N 20000)
	mount_uext4 "$img" "$mnt"
	mkdir "$mnt/d"
	names create "$mnt/d" 3000 >/dev/null
	SEED=${SEED:-$RANDOM} names unlink-random "$mnt/d" 1500 >/dev/null
	umount_uext4 "$mnt" "$img"
	fsck_clean "$img"
	is_indexed "$img" /d || fail "/d not indexed ($opts)"
	kernel_mount "$img" "$kmnt"
	cnt=$(ls -f "$kmnt/d" | wc -l)
	[ "$cnt" -eq 1502 ] || fail "kernel sees $cnt entries, want 1502 ($opts)"
	# the kernel adds to our index, we read its additions
	names create "$kmnt/d" 500 "kern-" >/dev/null
	kernel_umount "$kmnt"
	fsck_clean "$img"
	mount_uext4 "$img" "$mnt"
	names stat "$mnt/d" 500 "kern-" >/dev/null
	names unlink "$mnt/d" 500 "kern-" >/dev/null
	umount_uext4 "$mnt" "$img"
	fsck_clean "$img"
done

# ---- 3. a malformed index: linear fallback, no crash ----------------------
log "malformed dx_root (no checksums): lookups fall back to a linear scan"
img=$(make_image 64M -b 1024 -O ^metadata_csum)
mount_uext4 "$img" "$mnt"
mkdir "$mnt/d"
names create "$mnt/d" 400 >/dev/null
umount_uext4 "$mnt" "$img"
is_indexed "$img" /d || fail "/d not indexed"
blk=$(debugfs -R "bmap /d 0" "$img" 2>/dev/null)
# dx_root_info.hash_version at byte 28 of block 0: an unknown hash
printf '\x09' | dd of="$img" bs=1 seek=$((blk * 1024 + 28)) conv=notrunc status=none
mount_uext4 "$img" "$mnt"
names stat "$mnt/d" 400 >/dev/null
names missing "$mnt/d" 20 "absent-" >/dev/null
listing_ok "$mnt/d" 400 >/dev/null
# adding drops the unusable index (as ext4_add_entry without checksums)
touch "$mnt/d/new-entry"
stat "$mnt/d/new-entry" >/dev/null
umount_uext4 "$mnt" "$img"
fsck_clean "$img"

# poke IMG OFFSET BYTES... - overwrite bytes (given as \xNN escapes).
poke() {
	printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# Hostile index fields (no checksums to catch them): every lookup answers
# (found, or EUCLEAN/EIO where the index sends it to a block that cannot
# be), additions and removals either work or fail cleanly, the daemon
# survives and unmounts, and e2fsck -fy can repair what is left.
for field in "29 \x00" "30 \x07" "31 \x01" "32 \x00\x00" "34 \x00\x00" \
	     "34 \xff\x7f" "44 \xff\xff\xff\x0f" "36 \x00\x00\x00\x00"; do
	log "hostile dx_root byte ${field%% *} = ${field#* }"
	img=$(make_image 64M -b 1024 -O ^metadata_csum)
	mount_uext4 "$img" "$mnt"
	mkdir "$mnt/d"
	names create "$mnt/d" 400 >/dev/null
	umount_uext4 "$mnt" "$img"
	blk=$(debugfs -R "bmap /d 0" "$img" 2>/dev/null)
	poke "$img" $((blk * 1024 + ${field%% *})) "${field#* }"
	mount_uext4 "$img" "$mnt"
	python3 - "$mnt/d" <<'EOF2'
import errno, os, sys
d = sys.argv[1]
ok = bad = 0
for i in range(400):
    try:
        os.lstat(os.path.join(d, "entry-%07d-%s" % (i, "x" * (i % 37))))
        ok += 1
    except OSError as e:
        if e.errno not in (errno.EUCLEAN, errno.EIO):
            sys.exit("lookup gave %s" % errno.errorcode[e.errno])
        bad += 1
for op in (lambda: os.close(os.open(os.path.join(d, "added"), os.O_CREAT | os.O_WRONLY)),
           lambda: os.unlink(os.path.join(d, "entry-0000001-x")),
           lambda: os.listdir(d)):
    try:
        op()
    except OSError as e:
        if e.errno not in (errno.EUCLEAN, errno.EIO, errno.ENOENT):
            sys.exit("operation gave %s" % errno.errorcode[e.errno])
print("found", ok, "damaged", bad)
EOF2
	mountpoint -q "$mnt" || fail "daemon died"
	umount_uext4 "$mnt" "$img"
	e2fsck -fy "$img" >/dev/null 2>&1 || true
	fsck_clean "$img"
done

log "damaged leaf (metadata_csum): EUCLEAN for that directory only"
img=$(make_image 64M -b 1024)
mount_uext4 "$img" "$mnt"
mkdir "$mnt/d" "$mnt/other"
names create "$mnt/d" 400 >/dev/null
echo keep > "$mnt/other/file"
umount_uext4 "$mnt" "$img"
blk=$(debugfs -R "bmap /d 1" "$img" 2>/dev/null)
printf 'garbage!' | dd of="$img" bs=1 seek=$((blk * 1024 + 40)) conv=notrunc status=none
mount_uext4 "$img" "$mnt"
bad=0
out=$(names stat "$mnt/d" 400 2>&1) || bad=1
[ "$bad" = 1 ] || fail "a damaged leaf went unnoticed"
grep -q "Structure needs cleaning\|Input/output error" <<<"$out" || fail "unexpected error: $out"
[ "$(cat "$mnt/other/file")" = keep ] || fail "other directory unreadable"
umount_uext4 "$mnt" "$img"
e2fsck -fy "$img" >/dev/null 2>&1 || true
fsck_clean "$img"
log "ok"
