#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-names: name length limits. A 255-byte name works for every
# name-taking operation; a 256-byte one gives ENAMETOOLONG from lookup
# (stat), create, mknod, mkdir, symlink (as the name), link, rename (source
# and target), unlink, rmdir and the xattr calls, and nothing is written
# (fuse2fs writes a corrupt entry for such a name). Symlink targets: up to
# blocksize - 1 bytes, longer is ENAMETOOLONG. The same script runs on a
# kernel ext4 mount and on uext4 and the outputs must be identical; every
# image is e2fsck -fn clean and holds no entry longer than 255 bytes.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3 debugfs

# probe DIR BLOCKSIZE - every operation, one line each: "<op>: OK|<ERRNO>".
probe() {
	python3 - "$@" <<'EOF'
import errno, os, sys
d, bs = sys.argv[1], int(sys.argv[2])
n255 = "a" * 250 + "-name"          # 255 bytes
n256 = "b" * 251 + "-name"          # 256 bytes
n300 = "c" * 300
u255 = "\u00e9" * 127 + "z"         # 255 bytes of UTF-8
P = lambda n: os.path.join(d, n)

def run(label, fn):
    try:
        r = fn()
        print("%s: OK%s" % (label, "" if r is None else " " + str(r)))
    except OSError as e:
        print("%s: %s" % (label, errno.errorcode.get(e.errno, e.errno)))

def create(p):
    os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))

os.mkdir(P("sub"))
create(P("existing"))
for tag, name in (("255", n255), ("u255", u255), ("256", n256), ("300", n300)):
    run(tag + " stat", lambda: os.lstat(P(name)) and None)
    run(tag + " create", lambda: create(P(name)))
    run(tag + " stat-again", lambda: os.lstat(P(name)).st_size)
    run(tag + " xattr-set", lambda: os.setxattr(P(name), "user.k", b"v"))
    run(tag + " xattr-get", lambda: os.getxattr(P(name), "user.k").decode())
    run(tag + " xattr-list", lambda: sorted(os.listxattr(P(name))))
    run(tag + " xattr-remove", lambda: os.removexattr(P(name), "user.k"))
    run(tag + " unlink", lambda: os.unlink(P(name)))
    run(tag + " mkdir", lambda: os.mkdir(P(name)))
    run(tag + " rmdir", lambda: os.rmdir(P(name)))
    run(tag + " mknod-fifo", lambda: os.mknod(P(name), 0o600 | 0o010000))
    run(tag + " unlink-fifo", lambda: os.unlink(P(name)))
    run(tag + " symlink-name", lambda: os.symlink("target", P(name)))
    run(tag + " readlink", lambda: os.readlink(P(name)))
    run(tag + " unlink-link", lambda: os.unlink(P(name)))
    run(tag + " link", lambda: os.link(P("existing"), P(name)))
    run(tag + " rename-from", lambda: os.rename(P(name), P("renamed")))
    run(tag + " rename-back", lambda: os.rename(P("renamed"), P(name)))
    run(tag + " rename-to", lambda: os.rename(P("existing"), P(name)))
    run(tag + " rename-undo", lambda: os.rename(P(name), P("existing")))
    run(tag + " unlink-hard", lambda: os.unlink(P(name)))
    run(tag + " in-subdir", lambda: create(P("sub/" + name)))
    run(tag + " rename-across", lambda: os.rename(P("sub/" + name), P(name)))
    run(tag + " cleanup", lambda: os.unlink(P(name)))
    run(tag + " stat-link-count", lambda: os.lstat(P("existing")).st_nlink)

# symlink targets: blocksize - 1 bytes is the limit
for ln in (59, 60, 61, bs - 1, bs, bs + 1):
    t = "t" * ln
    name = "sl-%d" % ln
    run("target %d" % ln, lambda: os.symlink(t, P(name)))
    run("target %d readlink" % ln, lambda: len(os.readlink(P(name))))
    run("target %d size" % ln, lambda: os.lstat(P(name)).st_size)
print("listing", sorted(len(n) for n in os.listdir(d)))
EOF
}

# longest_name IMG DIR - length of the longest name debugfs lists in DIR.
longest_name() {
	debugfs -R "ls $2" "$1" 2>/dev/null | tr -s ' ' '\n' |
		awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }'
}

for bs in 1024 4096; do
	for opts in "" "-O ^metadata_csum"; do
		log "blocksize $bs ${opts:-(defaults)}"
		# shellcheck disable=SC2086
		kimg=$(make_image 64M -b "$bs" $opts)
		# shellcheck disable=SC2086
		uimg=$(make_image 64M -b "$bs" $opts)
		kernel_mount "$kimg" "$WORK/k"
		mkdir "$WORK/k/t"
		probe "$WORK/k/t" "$bs" > "$WORK/kernel.out"
		kernel_umount "$WORK/k"
		mount_uext4 "$uimg" "$WORK/u"
		mkdir "$WORK/u/t"
		probe "$WORK/u/t" "$bs" > "$WORK/uext4.out"
		umount_uext4 "$WORK/u" "$uimg"
		if ! diff -u "$WORK/kernel.out" "$WORK/uext4.out"; then
			fail "uext4 differs from kernel ext4 (blocksize $bs $opts)"
		fi
		grep -q '^256 create: ENAMETOOLONG$' "$WORK/uext4.out" ||
			fail "256-byte create did not give ENAMETOOLONG"
		grep -q '^255 create: OK$' "$WORK/uext4.out" ||
			fail "255-byte create failed"
		fsck_clean "$uimg"
		fsck_clean "$kimg"
		m=$(longest_name "$uimg" /t)
		[ "$m" -le 255 ] || fail "an entry of $m bytes was written"
	done
done
# Symlink storage: fast (i_block), slow (one block), inline data (made by
# debugfs), and damaged sizes (EUCLEAN for that link only, never a crash).
log "symlink storage kinds"
img=$(make_image 64M -O inline_data)
long=$(printf 'y%.0s' $(seq 1 100))
slow=$(printf 'z%.0s' $(seq 1 300))
debugfs -w -R "symlink /inl $long" "$img" >/dev/null 2>&1
debugfs -w -R "symlink /fast short-target" "$img" >/dev/null 2>&1
debugfs -w -R "symlink /fastbig short-target" "$img" >/dev/null 2>&1
debugfs -w -R "sif /fastbig size 70" "$img" >/dev/null 2>&1
debugfs -w -R "symlink /fastshort short-target" "$img" >/dev/null 2>&1
debugfs -w -R "sif /fastshort size 5" "$img" >/dev/null 2>&1
debugfs -R "stat /inl" "$img" 2>/dev/null | grep -q "Flags: 0x10000000" ||
	fail "debugfs did not make an inline symlink"
mount_uext4 "$img" "$WORK/u"
ln -s "$slow" "$WORK/u/slow"
[ "$(readlink "$WORK/u/inl")" = "$long" ] || fail "inline symlink"
[ "$(readlink "$WORK/u/fast")" = short-target ] || fail "fast symlink"
[ "$(readlink "$WORK/u/slow")" = "$slow" ] || fail "slow symlink"
for bad in fastbig fastshort; do
	if out=$(readlink "$WORK/u/$bad" 2>&1); then
		fail "damaged symlink $bad read as '$out'"
	fi
done
[ "$(readlink "$WORK/u/fast")" = short-target ] || fail "fast symlink after errors"
umount_uext4 "$WORK/u" "$img"
debugfs -w -R "sif /fastbig size 12" "$img" >/dev/null 2>&1
debugfs -w -R "sif /fastshort size 12" "$img" >/dev/null 2>&1
e2fsck -fy "$img" >/dev/null 2>&1 || true	# clears the error flag
fsck_clean "$img"
log "ok"
