#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-xattr: extended attributes and POSIX ACLs, compared with kernel ext4.
#
# The same scripts run on a kernel ext4 loop mount and on uext4; their
# outputs must be identical:
#  - xattr semantics as root (python): set/get/list/remove, XATTR_CREATE /
#    XATTR_REPLACE, size queries and ERANGE for short buffers, name length
#    limits, namespaces (user, trusted, security, unsupported ones), value
#    sizes (in-inode, block, ENOSPC, E2BIG), symlinks and fifos, many
#    attributes spilling into the external block;
#  - the same as an unprivileged user (nobody): trusted hidden and refused,
#    security refused, user attributes need write permission;
#  - POSIX ACLs with setfacl/getfacl: access ACLs change the mode and are
#    enforced for nobody (runuser), the mask, chmod, removal, equivalent
#    ACLs not stored, default ACLs inherited by files and directories (and
#    the umask ignored then, applied otherwise), a default ACL on a file
#    refused, setgid dropped when the owner is not in the file's group.
# Then the attributes must survive a remount, be read identically by
# kernel ext4 from uext4's image, live in the inode or in an external block
# as expected (debugfs), and e2fsck must be clean.
. "$(dirname "$0")/lib.sh"
require_root
for c in setfattr getfattr setfacl getfacl; do
	command -v "$c" >/dev/null 2>&1 && continue
	apt-get install -y attr acl >/dev/null 2>&1 || true
	command -v "$c" >/dev/null 2>&1 || skip "needs $c (packages attr, acl: not installable here)"
done
require_cmd python3 runuser debugfs
id nobody >/dev/null 2>&1 || skip "needs the user nobody"
chmod 755 "$WORK"

cat > "$WORK/xattr.py" <<'EOF'
import ctypes, errno, os, sys

libc = ctypes.CDLL(None, use_errno=True)
d, role = sys.argv[1], sys.argv[2]
P = lambda n: os.path.join(d, n)

def E(fn, *a, **k):
    try:
        r = fn(*a, **k)
        return "ok" if r is None else r
    except OSError as e:
        return errno.errorcode[e.errno]

def raw_get(path, name, size):
    buf = ctypes.create_string_buffer(max(size, 1))
    r = libc.getxattr(path.encode(), name.encode(), buf if size else None, size)
    return r if r >= 0 else errno.errorcode[ctypes.get_errno()]

def raw_list(path, size):
    buf = ctypes.create_string_buffer(max(size, 1))
    r = libc.listxattr(path.encode(), buf if size else None, size)
    return r if r >= 0 else errno.errorcode[ctypes.get_errno()]

def out(*a):
    print(*a, flush=True)

if role == "root":
    f, g, dd = P("f"), P("many"), P("dir")
    open(f, "w").close()
    open(g, "w").close()
    os.mkdir(dd)
    os.symlink("f", P("link"))
    os.mkfifo(P("fifo"))
    out("set", E(os.setxattr, f, "user.a", b"1"))
    out("get", E(os.getxattr, f, "user.a"))
    out("create existing", E(os.setxattr, f, "user.a", b"2", os.XATTR_CREATE))
    out("replace missing", E(os.setxattr, f, "user.b", b"2", os.XATTR_REPLACE))
    out("replace", E(os.setxattr, f, "user.a", b"22", os.XATTR_REPLACE), E(os.getxattr, f, "user.a"))
    out("create empty", E(os.setxattr, f, "user.b", b"", os.XATTR_CREATE), E(os.getxattr, f, "user.b"))
    out("list", sorted(os.listxattr(f)))
    out("remove", E(os.removexattr, f, "user.b"), E(os.removexattr, f, "user.b"), E(os.getxattr, f, "user.b"))
    out("get missing", E(os.getxattr, f, "user.nope"))
    os.setxattr(f, "user.sized", b"x" * 100)
    out("size query", raw_get(f, "user.sized", 0), raw_get(f, "user.sized", 99), raw_get(f, "user.sized", 100))
    n = raw_list(f, 0)
    out("list size", n, raw_list(f, n - 1), raw_list(f, n))
    out("name 255", E(os.setxattr, f, "user." + "n" * 250, b"v"), len(E(os.getxattr, f, "user." + "n" * 250)))
    out("name 256", E(os.setxattr, f, "user." + "n" * 251, b"v"))
    out("bare prefix", E(os.setxattr, f, "user.", b"v"), E(os.getxattr, f, "user."))
    for name in ("foo.bar", "system.foo", "system.data", "os2.x"):
        out("namespace", name, E(os.setxattr, f, name, b"v"), E(os.getxattr, f, name))
    out("trusted", E(os.setxattr, f, "trusted.t", b"tv"), E(os.getxattr, f, "trusted.t"))
    out("security", E(os.setxattr, f, "security.s", b"sv"), E(os.getxattr, f, "security.s"))
    out("list all", sorted(os.listxattr(f)))
    out("value 3000", E(os.setxattr, P("f"), "user.big", b"b" * 3000), len(os.getxattr(f, "user.big")))
    out("value 5000", E(os.setxattr, f, "user.huge", b"h" * 5000))
    out("value 70000", E(os.setxattr, f, "user.huge", b"h" * 70000))
    out("remove big", E(os.removexattr, f, "user.big"))
    out("symlink user", E(os.setxattr, P("link"), "user.x", b"1", follow_symlinks=False),
        E(os.getxattr, P("link"), "user.x", follow_symlinks=False))
    out("symlink trusted", E(os.setxattr, P("link"), "trusted.x", b"1", follow_symlinks=False),
        E(os.getxattr, P("link"), "trusted.x", follow_symlinks=False))
    out("fifo user", E(os.setxattr, P("fifo"), "user.x", b"1"), E(os.getxattr, P("fifo"), "user.x"))
    out("dir user", E(os.setxattr, dd, "user.d", b"dv"), E(os.getxattr, dd, "user.d"))
    # 24 attributes of 100 bytes: more than the inode holds, less than a block
    res = [E(os.setxattr, g, "user.many%02d" % i, bytes([65 + i]) * 100) for i in range(24)]
    out("many", res.count("ok"), all(os.getxattr(g, "user.many%02d" % i) == bytes([65 + i]) * 100 for i in range(24)))
    out("many list", len(os.listxattr(g)))
    # a file nobody owns, for the unprivileged part
    open(P("mine"), "w").close()
    os.chown(P("mine"), 65534, 65534)
    os.setxattr(P("mine"), "trusted.hidden", b"1")
    os.chmod(f, 0o644)
elif role == "nobody":
    f, m = P("f"), P("mine")
    out("nobody get trusted", E(os.getxattr, f, "trusted.t"))
    out("nobody set trusted", E(os.setxattr, m, "trusted.x", b"1"))
    out("nobody list", sorted(os.listxattr(m)), sorted(os.listxattr(f)))
    out("nobody set security", E(os.setxattr, m, "security.x", b"1"))
    out("nobody set user own", E(os.setxattr, m, "user.mine", b"1"), E(os.getxattr, m, "user.mine"))
    out("nobody set user other", E(os.setxattr, f, "user.x", b"1"))
    out("nobody get user other", E(os.getxattr, f, "user.a"))
    out("nobody remove user other", E(os.removexattr, f, "user.a"))
else:
    # default ACL on a regular file: refused (a valid minimal ACL)
    acl = b"\x02\x00\x00\x00" + b"".join(
        t.to_bytes(2, "little") + p.to_bytes(2, "little") + (0xffffffff).to_bytes(4, "little")
        for t, p in ((1, 6), (4, 4), (0x20, 4)))
    out("default acl on file", E(os.setxattr, P("f"), "system.posix_acl_default", acl))
    out("bad acl", E(os.setxattr, P("f"), "system.posix_acl_access", b"\x02\x00\x00\x00\x01\x00"))
    out("remove absent acl", E(os.removexattr, P("f"), "system.posix_acl_access"))
EOF

# acl_script DIR - setfacl/getfacl session; prints only what must match
acl_script() {
	(
	set +e
	cd "$1" || exit 1
	umask 022
	ucat() { runuser -u nobody -- cat "$1" 2>&1 | sed 's/^cat: //'; }
	uwrite() { runuser -u nobody -- sh -c "echo w >> '$1'" 2>&1 | sed 's/^sh: [0-9]*: //'; echo "write $1 rc=${PIPESTATUS[0]}"; }

	echo secret > a; chmod 600 a
	echo "-- no acl"; ucat a
	setfacl -m u:nobody:r a; stat -c '%A' a; getfacl -cn a; ucat a
	echo "-- mask none"; setfacl -m m::- a; stat -c '%A' a; ucat a
	echo "-- chmod"; chmod 660 a; stat -c '%A' a; getfacl -cn a; ucat a
	echo "-- write"; setfacl -m u:nobody:rw a; uwrite a; cat a
	echo "-- remove all"; setfacl -b a; stat -c '%A' a; getfacl -cn a; ucat a
	echo "-- equivalent"; setfacl --set u::rwx,g::r-x,o::- a; stat -c '%A' a
	getfattr -m - -d a 2>&1
	echo "-- nobody may not set acl"; runuser -u nobody -- setfacl -m u:nobody:rwx a 2>&1; stat -c '%A' a
	echo "-- owner outside the group loses setgid"
	touch sg; chown nobody:root sg; chmod 2770 sg
	runuser -u nobody -- setfacl -m u:nobody:rwx sg; stat -c '%n %a' sg; getfacl -cn sg

	echo "-- default acl"
	mkdir d; setfacl -d -m u:nobody:rwx,g::rx,o::- d; getfacl -cn d
	umask 077
	touch d/file; mkdir d/sub; mknod d/fifo p
	stat -c '%n %A' d/file d/sub d/fifo
	getfacl -cn d/file d/sub d/fifo
	uwrite d/file
	mkdir d/sub/deeper; stat -c '%n %A' d/sub/deeper; getfacl -cn d/sub/deeper
	echo "-- no default acl: umask"
	umask 027; touch plain; mkdir plaind; stat -c '%n %A' plain plaind
	getfattr -m - -d plain plaind 2>&1
	echo "-- remove default"; setfacl -k d; getfacl -cn d; touch d/after; stat -c '%n %A' d/after
	)
}

run_all() {
	python3 "$WORK/xattr.py" "$1" root
	runuser -u nobody -- python3 "$WORK/xattr.py" "$1" nobody
	python3 "$WORK/xattr.py" "$1" acl
	mkdir "$1/acl"
	acl_script "$1/acl"
}

# dump DIR - every attribute of every file and directory, in name order
dump() {
	python3 - "$1" <<'EOF'
import os, sys
top = sys.argv[1]
paths = []
for root, dirs, files in os.walk(top):
    paths += [os.path.join(root, n) for n in dirs + files]
for p in sorted(paths):
    for name in sorted(os.listxattr(p, follow_symlinks=False)):
        v = os.getxattr(p, name, follow_symlinks=False)
        print(os.path.relpath(p, top), name, v.hex())
EOF
}

kimg=$(make_image 64M -b 4096)
kernel_mount "$kimg" "$WORK/kmnt" acl,user_xattr
chmod 755 "$WORK/kmnt"
run_all "$WORK/kmnt" > "$WORK/kernel.out" 2>&1
dump "$WORK/kmnt" > "$WORK/kernel.dump"
kernel_umount "$WORK/kmnt"
fsck_clean "$kimg"

img=$(make_image 64M -b 4096)
mnt=$WORK/mnt
mount_uext4 "$img" "$mnt" -o allow_other
chmod 755 "$mnt"
run_all "$mnt" > "$WORK/uext4.out" 2>&1
diff -u "$WORK/kernel.out" "$WORK/uext4.out" || fail "uext4 differs from kernel ext4"
log "xattr and ACL behaviour identical to kernel ext4"
dump "$mnt" > "$WORK/uext4.dump"
diff -u "$WORK/kernel.dump" "$WORK/uext4.dump" || fail "attributes differ from kernel ext4"
ino_f=$(stat -c %i "$mnt/dir")
ino_many=$(stat -c %i "$mnt/many")
umount_uext4 "$mnt" "$img"
fsck_clean "$img"

# storage: a small attribute stays in the inode, many spill into a block
acl_blk() { debugfs -R "stat <$1>" "$img" 2>/dev/null | sed -n 's/.*File ACL: \([0-9]*\).*/\1/p'; }
[ "$(acl_blk "$ino_f")" = 0 ] || fail "a small attribute left the inode (File ACL $(acl_blk "$ino_f"))"
[ "$(acl_blk "$ino_many")" -gt 0 ] || fail "24 attributes of 100 bytes did not use an external block"

mount_uext4 "$img" "$mnt" -o allow_other
dump "$mnt" > "$WORK/uext4.remount"
umount_uext4 "$mnt" "$img"
diff -u "$WORK/uext4.dump" "$WORK/uext4.remount" || fail "attributes changed across a remount"
kernel_mount "$img" "$WORK/kmnt" ro,acl,user_xattr
dump "$WORK/kmnt" > "$WORK/uext4.kernel"
kernel_umount "$WORK/kmnt"
diff -u "$WORK/uext4.dump" "$WORK/uext4.kernel" || fail "kernel ext4 reads uext4's attributes differently"
log "attributes persist and read identically under kernel ext4"

# read-only mount: EROFS
mount_uext4 "$img" "$mnt" -o ro,allow_other
out=$(setfattr -n user.ro -v 1 "$mnt/dir" 2>&1) && fail "setxattr succeeded on a read-only mount"
case $out in *"Read-only file system"*) ;; *) fail "setxattr on ro mount: $out" ;; esac
getfattr -n user.d --only-values "$mnt/dir" | grep -qx dv || fail "getxattr on a read-only mount"
umount_uext4 "$mnt" "$img"

fsck_clean "$img"
log "PASS"
