#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-dirops: directory operations of uext4 against kernel ext4. The same
# probe runs on a kernel ext4 loop mount and on uext4 (fresh images made
# alike) and the outputs must be identical: mkdir, mknod (fifo, socket,
# char, block, regular, large device numbers), symlink, readlink, link,
# unlink, rmdir, rename with flags 0 / RENAME_NOREPLACE / RENAME_EXCHANGE,
# every error case (ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EINVAL,
# EPERM, EMLINK, ENOSPC, EROFS), link counts, which timestamps change, ".."
# after moves, exact modes under umask 022/077/000 and setgid directories,
# and an unprivileged part (runuser) for sticky directories, permission
# errors and setgid stripping. Plus uext4-only: RENAME_WHITEOUT is EINVAL.
# Every image is e2fsck -fn clean at the end.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd python3 debugfs runuser

chmod 755 "$WORK"
PROBE=$WORK/probe.py
cat > "$PROBE" <<'EOF'
import ctypes, errno, os, stat, sys, time

libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
NOREPLACE, EXCHANGE, WHITEOUT = 1, 2, 4

def renameat2(a, b, flags):
    if libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), flags):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))

def run(label, fn):
    try:
        r = fn()
        print("%s: OK%s" % (label, "" if r is None else " " + str(r)))
    except OSError as e:
        print("%s: %s" % (label, errno.errorcode.get(e.errno, e.errno)))

def create(p, mode=0o644):
    os.close(os.open(p, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode))

def desc(p):
    s = os.lstat(p)
    out = "%s mode=%o nlink=%d uid=%d gid=%d" % (
        stat.filemode(s.st_mode), s.st_mode, s.st_nlink, s.st_uid, s.st_gid)
    if stat.S_ISCHR(s.st_mode) or stat.S_ISBLK(s.st_mode):
        out += " rdev=%d,%d" % (os.major(s.st_rdev), os.minor(s.st_rdev))
    if stat.S_ISREG(s.st_mode) or stat.S_ISLNK(s.st_mode):
        out += " size=%d" % s.st_size
    return out

def show(label, p):
    run(label, lambda: desc(p))

def same(a, b):
    return os.lstat(a).st_ino == os.lstat(b).st_ino

def listing(d):
    return sorted(os.listdir(d))

def basic(d):
    P = lambda *n: os.path.join(d, *n)
    run("mkdir a", lambda: os.mkdir(P("a")))
    run("mkdir a again", lambda: os.mkdir(P("a")))
    run("mkdir in missing", lambda: os.mkdir(P("nope", "x")))
    run("create f", lambda: create(P("f")))
    run("mkdir under file", lambda: os.mkdir(P("f", "x")))
    run("create f again", lambda: create(P("f")))
    show("root", d)
    show("a", P("a"))
    run("mknod fifo", lambda: os.mknod(P("fifo"), 0o640 | stat.S_IFIFO))
    run("mknod sock", lambda: os.mknod(P("sock"), 0o600 | stat.S_IFSOCK))
    run("mknod chr", lambda: os.mknod(P("chr"), 0o600 | stat.S_IFCHR, os.makedev(1, 3)))
    run("mknod blk", lambda: os.mknod(P("blk"), 0o600 | stat.S_IFBLK, os.makedev(8, 1)))
    run("mknod bigdev", lambda: os.mknod(P("bigdev"), 0o600 | stat.S_IFCHR, os.makedev(300, 70000)))
    run("mknod reg", lambda: os.mknod(P("reg"), 0o640 | stat.S_IFREG))
    run("mknod exists", lambda: os.mknod(P("fifo"), 0o640 | stat.S_IFIFO))
    for n in ("fifo", "sock", "chr", "blk", "bigdev", "reg"):
        show("stat " + n, P(n))
    run("symlink", lambda: os.symlink("some/target", P("sl")))
    run("symlink exists", lambda: os.symlink("x", P("sl")))
    run("symlink slow", lambda: os.symlink("s" * 300, P("slow")))
    run("readlink", lambda: os.readlink(P("sl")))
    run("readlink slow", lambda: len(os.readlink(P("slow"))))
    run("readlink file", lambda: os.readlink(P("f")))
    run("readlink dir", lambda: os.readlink(P("a")))
    show("stat sl", P("sl"))
    show("stat slow", P("slow"))
    # link
    run("link", lambda: os.link(P("f"), P("f2")))
    show("f after link", P("f"))
    run("link exists", lambda: os.link(P("f"), P("f2")))
    run("link missing", lambda: os.link(P("nope"), P("f3")))
    run("link dir", lambda: os.link(P("a"), P("a2")))
    run("link into missing", lambda: os.link(P("f"), P("nope", "x")))
    run("link symlink", lambda: os.link(P("sl"), P("sl2"), follow_symlinks=False))
    run("link fifo", lambda: os.link(P("fifo"), P("a", "fifo")))
    show("fifo nlink", P("fifo"))
    # unlink
    run("unlink f2", lambda: os.unlink(P("f2")))
    show("f after unlink", P("f"))
    run("unlink missing", lambda: os.unlink(P("f2")))
    run("unlink dir", lambda: os.unlink(P("a")))
    run("unlink in missing", lambda: os.unlink(P("nope", "x")))
    run("unlink through file", lambda: os.unlink(P("f", "x")))
    # rmdir
    run("mkdir a/b", lambda: os.mkdir(P("a", "b")))
    show("a with b", P("a"))
    run("rmdir nonempty", lambda: os.rmdir(P("a")))
    run("rmdir file", lambda: os.rmdir(P("f")))
    run("rmdir missing", lambda: os.rmdir(P("zz")))
    run("rmdir a/b", lambda: os.rmdir(P("a", "b")))
    show("a without b", P("a"))
    run("rmdir a/fifo", lambda: os.unlink(P("a", "fifo")))
    run("rmdir a", lambda: os.rmdir(P("a")))
    show("root after rmdir", d)
    # open directory that is removed
    os.mkdir(P("gone"))
    fd = os.open(P("gone"), os.O_RDONLY)
    run("rmdir open dir", lambda: os.rmdir(P("gone")))
    run("create in removed dir", lambda: create("/proc/self/fd/%d/x" % fd))
    os.close(fd)
    print("listing", listing(d))

def renames(d):
    P = lambda *n: os.path.join(d, *n)
    for n in ("d1", "d2", "d1/sub", "d1/sub/deep", "d2/full", "empty"):
        os.mkdir(P(n))
    for n in ("x", "y", "d1/fx", "d2/full/keep"):
        create(P(n))
    os.link(P("x"), P("xh"))
    show("d1", P("d1"))
    show("d2", P("d2"))
    run("rename missing", lambda: os.rename(P("nope"), P("z")))
    run("rename file over file", lambda: os.rename(P("y"), P("y2")))
    create(P("y"))
    run("rename file over existing", lambda: os.rename(P("y"), P("y2")))
    run("y gone", lambda: os.lstat(P("y")) and None)
    run("same inode", lambda: os.rename(P("x"), P("xh")))
    run("same inode both stay", lambda: (os.path.lexists(P("x")), os.path.lexists(P("xh"))))
    show("x", P("x"))
    run("dir over file", lambda: os.rename(P("empty"), P("y2")))
    run("file over dir", lambda: os.rename(P("y2"), P("empty")))
    run("dir over nonempty", lambda: os.rename(P("empty"), P("d2")))
    run("dir into itself", lambda: os.rename(P("d1"), P("d1", "sub", "in")))
    run("dir into descendant", lambda: os.rename(P("d1"), P("d1", "sub", "deep", "in")))
    run("dir over its parent", lambda: os.rename(P("d1", "sub"), P("d1")))
    run("dir move", lambda: os.rename(P("d1", "sub"), P("d2", "sub")))
    show("d1 after move", P("d1"))
    show("d2 after move", P("d2"))
    run("dotdot follows", lambda: same(P("d2", "sub", ".."), P("d2")))
    run("dir over empty dir", lambda: os.rename(P("d2", "sub"), P("empty")))
    show("d2 after replace", P("d2"))
    show("root after replace", d)
    run("dotdot root", lambda: same(P("empty", ".."), d))
    run("deep still there", lambda: os.path.isdir(P("empty", "deep")))
    run("noreplace exists", lambda: renameat2(P("x"), P("d1", "fx"), NOREPLACE))
    run("noreplace new", lambda: renameat2(P("x"), P("d1", "xn"), NOREPLACE))
    run("noreplace+exchange", lambda: renameat2(P("xh"), P("d1", "fx"), NOREPLACE | EXCHANGE))
    run("exchange missing", lambda: renameat2(P("xh"), P("d1", "zz"), EXCHANGE))
    run("exchange missing src", lambda: renameat2(P("zz"), P("xh"), EXCHANGE))
    run("exchange files", lambda: renameat2(P("xh"), P("d1", "fx"), EXCHANGE))
    run("exchange same inode", lambda: renameat2(P("d1", "xn"), P("d1", "fx"), EXCHANGE))
    run("exchange file dir", lambda: renameat2(P("xh"), P("d2", "full"), EXCHANGE))
    show("xh now", P("xh"))
    show("d2/full now", P("d2", "full"))
    show("root after exchange", d)
    show("d2 after exchange", P("d2"))
    run("exchanged dotdot", lambda: same(P("xh", ".."), d))
    run("exchange into descendant", lambda: renameat2(P("xh"), P("xh", "keep"), EXCHANGE))
    run("exchange dirs", lambda: renameat2(P("d1"), P("empty"), EXCHANGE))
    print("listing", listing(d), listing(P("d1")), listing(P("d2")))

def times(d):
    P = lambda *n: os.path.join(d, *n)
    os.mkdir(P("p"))
    os.mkdir(P("q"))
    create(P("p", "f"))
    os.mkdir(P("p", "sd"))
    create(P("q", "t"))
    def check(label, op, paths):
        before = {p: os.lstat(P(*p.split("/"))) for p in paths}
        time.sleep(0.05)
        run(label, op)
        for p in paths:
            try:
                s = os.lstat(P(*p.split("/")))
            except OSError:
                print("  %s gone" % p)
                continue
            b = before[p]
            print("  %s m:%s c:%s a:%s" % (p,
                  "chg" if s.st_mtime_ns != b.st_mtime_ns else "same",
                  "chg" if s.st_ctime_ns != b.st_ctime_ns else "same",
                  "chg" if s.st_atime_ns != b.st_atime_ns else "same"))
    check("link", lambda: os.link(P("p", "f"), P("q", "f")), ["p", "q", "p/f"])
    check("unlink", lambda: os.unlink(P("q", "f")), ["p", "q", "p/f"])
    check("mkdir", lambda: os.mkdir(P("p", "n")), ["p", "q"])
    check("rmdir", lambda: os.rmdir(P("p", "n")), ["p", "q"])
    check("symlink", lambda: os.symlink("t", P("p", "l")), ["p"])
    check("rename file", lambda: os.rename(P("p", "f"), P("q", "f")), ["p", "q", "q/t"])
    check("rename over", lambda: os.rename(P("q", "f"), P("q", "t")), ["p", "q"])
    check("rename dir", lambda: os.rename(P("p", "sd"), P("q", "sd")), ["p", "q", "p/l"])
    check("exchange", lambda: renameat2(P("q", "sd"), P("p", "l"), EXCHANGE), ["p", "q"])

def modes(d):
    P = lambda *n: os.path.join(d, *n)
    os.mkdir(P("sg"))
    os.chown(P("sg"), 0, 1234)
    os.chmod(P("sg"), 0o2775)
    for um in (0o022, 0o077, 0o000):
        os.umask(um)
        t = "u%03o" % um
        os.mkdir(P(t))
        for where in (t, "sg"):
            for m in (0o777, 0o1777, 0o2755, 0o700):
                n = "%s/d%s-%o" % (where, t, m)
                run("mkdir %s" % n, lambda: os.mkdir(P(n), m))
                show("  " + n, P(n))
            for m in (0o666, 0o4755, 0o2755, 0o2745, 0o600):
                n = "%s/f%s-%o" % (where, t, m)
                run("create %s" % n, lambda: create(P(n), m))
                show("  " + n, P(n))
                n = "%s/n%s-%o" % (where, t, m)
                run("mknod %s" % n, lambda: os.mknod(P(n), m | stat.S_IFIFO))
                show("  " + n, P(n))
            n = "%s/l%s" % (where, t)
            run("symlink " + n, lambda: os.symlink("x", P(n)))
            show("  " + n, P(n))
    os.umask(0o022)

def unpriv_setup(d):
    P = lambda *n: os.path.join(d, *n)
    os.mkdir(P("sticky"), 0o1777)
    os.chmod(P("sticky"), 0o1777)
    os.mkdir(P("closed"), 0o755)
    os.mkdir(P("sg"), 0o2777)
    os.chmod(P("sg"), 0o2777)
    os.chown(P("sg"), 0, 4321)
    create(P("sticky", "rootfile"), 0o666)

def unpriv_a(d):
    P = lambda *n: os.path.join(d, *n)
    run("create in sticky", lambda: create(P("sticky", "mine"), 0o666))
    run("mkdir in sticky", lambda: os.mkdir(P("sticky", "mydir")))
    run("unlink root's file in sticky", lambda: os.unlink(P("sticky", "rootfile")))
    run("rename root's file in sticky", lambda: os.rename(P("sticky", "rootfile"), P("sticky", "r2")))
    run("create in closed", lambda: create(P("closed", "x")))
    run("mkdir in closed", lambda: os.mkdir(P("closed", "x")))
    run("symlink in closed", lambda: os.symlink("t", P("closed", "x")))
    run("create sgid file in foreign sg dir", lambda: create(P("sg", "f"), 0o2775))
    show("  sg/f", P("sg", "f"))
    run("mkdir in sg dir", lambda: os.mkdir(P("sg", "d"), 0o755))
    show("  sg/d", P("sg", "d"))
    run("mknod in sg dir", lambda: os.mknod(P("sg", "n"), 0o2770 | stat.S_IFIFO))
    show("  sg/n", P("sg", "n"))

def unpriv_b(d):
    P = lambda *n: os.path.join(d, *n)
    run("other user unlinks in sticky", lambda: os.unlink(P("sticky", "mine")))
    run("other user rmdir in sticky", lambda: os.rmdir(P("sticky", "mydir")))
    run("other user renames in sticky", lambda: os.rename(P("sticky", "mine"), P("sticky", "m2")))
    run("other user creates in sticky", lambda: create(P("sticky", "b")))
    run("other user unlinks own", lambda: os.unlink(P("sticky", "b")))

def inline(d):
    P = lambda *n: os.path.join(d, *n)
    print("listing d", listing(P("d")))
    show("d", P("d"))
    show("d/sub", P("d", "sub"))
    show("d/a", P("d", "a"))
    run("readlink", lambda: os.readlink(P("d", "l")))
    run("missing", lambda: os.lstat(P("d", "zz")) and None)
    run("rename inline dir", lambda: os.rename(P("d", "sub"), P("e", "sub")))
    run("dotdot", lambda: same(P("e", "sub", ".."), P("e")))
    show("d", P("d"))
    show("e", P("e"))
    run("unlink a", lambda: os.unlink(P("d", "a")))
    run("rmdir sub2", lambda: os.rmdir(P("d", "sub2")))
    run("rmdir d", lambda: os.rmdir(P("d")))
    run("create in inline sub", lambda: create(P("e", "sub", "x")))
    for i in range(40):
        create(P("d", "grow-%02d-%s" % (i, "z" * 20)))
    print("listing d", listing(P("d")))
    run("exchange", lambda: renameat2(P("e", "sub"), P("d", "b"), EXCHANGE))
    run("dotdot after exchange", lambda: same(P("d", "b", ".."), P("d")))
    show("d", P("d"))
    show("e", P("e"))
    run("rmdir nonempty inline", lambda: os.rmdir(P("d", "b")))
    run("unlink x", lambda: os.unlink(P("d", "b", "x")))
    run("rmdir inline", lambda: os.rmdir(P("d", "b")))
    print("listing e", listing(P("e")))

def readdirs(d):
    P = lambda *n: os.path.join(d, *n)
    os.mkdir(P("r"))
    for i in range(300):
        create(P("r", "old-%03d" % i))
    fd = os.open(P("r"), os.O_RDONLY)
    run("fsyncdir", lambda: os.fsync(fd))
    first = os.listdir(fd)
    create(P("r", "new-after-open"))
    os.unlink(P("r", "old-000"))
    again = os.listdir(fd)      # rewinddir: sees the change
    run("rewind sees new", lambda: "new-after-open" in again)
    run("rewind drops removed", lambda: "old-000" not in again)
    os.close(fd)
    # entries that stay are returned exactly once while the directory changes
    seen = []
    it = os.scandir(P("r"))
    for n, e in enumerate(it):
        seen.append(e.name)
        if n == 20:
            for i in range(200):
                create(P("r", "during-%03d" % i))
    it.close()
    stay = {"old-%03d" % i for i in range(1, 300)} | {"new-after-open"}
    print("readdir while changing: dups", len(seen) - len(set(seen)),
          "missing", len(stay - set(seen)))
    print("listing r", len(os.listdir(P("r"))))

def enospc(d):
    n = 0
    while True:
        try:
            create(os.path.join(d, "f%05d" % n))
        except OSError as e:
            print("create stopped:", errno.errorcode[e.errno], "after", n)
            break
        n += 1
    run("mkdir when full", lambda: os.mkdir(os.path.join(d, "dfull")))
    run("symlink when full", lambda: os.symlink("x", os.path.join(d, "sfull")))
    run("unlink one", lambda: os.unlink(os.path.join(d, "f00000")))
    run("mkdir after", lambda: os.mkdir(os.path.join(d, "dnew")))

def ro(d):
    P = lambda *n: os.path.join(d, *n)
    run("ro mkdir", lambda: os.mkdir(P("new")))
    run("ro create", lambda: create(P("new")))
    run("ro mknod", lambda: os.mknod(P("new"), 0o600 | stat.S_IFIFO))
    run("ro symlink", lambda: os.symlink("x", P("new")))
    run("ro link", lambda: os.link(P("f"), P("new")))
    run("ro unlink", lambda: os.unlink(P("f")))
    run("ro rmdir", lambda: os.rmdir(P("d")))
    run("ro rename", lambda: os.rename(P("f"), P("g")))
    run("ro readlink", lambda: os.readlink(P("l")))
    print("listing", listing(d))

def nlink(d, what):
    P = lambda *n: os.path.join(d, *n)
    if what == "setup":
        os.mkdir(P("big"))
        for i in range(120):    # enough long names to index it
            create(P("big", "entry-%03d-%s" % (i, "y" * 40)))
        create(P("f"))
        return
    for i in range(3):
        run("mkdir sub%d" % i, lambda: os.mkdir(P("big", "sub%d" % i)))
        show("  big", P("big"))
    for i in range(3):
        run("rmdir sub%d" % i, lambda: os.rmdir(P("big", "sub%d" % i)))
        show("  big", P("big"))
    for i in range(3):
        run("link f%d" % i, lambda: os.link(P("f"), P("f%d" % i)))
        show("  f", P("f"))
    for i in range(3):
        run("unlink f%d" % i, lambda: os.unlink(P("f%d" % i)))

sect, d = sys.argv[1], sys.argv[2]
os.umask(0o022)
if sect == "basic": basic(d)
elif sect == "renames": renames(d)
elif sect == "times": times(d)
elif sect == "modes": modes(d)
elif sect == "unpriv-setup": unpriv_setup(d)
elif sect == "unpriv-a": unpriv_a(d)
elif sect == "unpriv-b": unpriv_b(d)
elif sect == "enospc": enospc(d)
elif sect == "inline": inline(d)
elif sect == "readdirs": readdirs(d)
elif sect == "ro": ro(d)
elif sect.startswith("nlink-"): nlink(d, sect[6:])
elif sect == "whiteout":
    create(os.path.join(d, "w"))
    run("whiteout", lambda: renameat2(os.path.join(d, "w"), os.path.join(d, "w2"), WHITEOUT))
EOF
chmod 644 "$PROBE"

probe() { python3 "$PROBE" "$@"; }

# both NAME MKFS_OPTS SCRIPT [PREP] - run the shell function SCRIPT with a
# mount point argument on kernel ext4 and on uext4 (fresh alike images, both
# first given to PREP IMG if named), diff.
both() {
	local name=$1 opts=$2 fn=$3 prep=${4:-} kimg uimg
	log "$name"
	# shellcheck disable=SC2086
	kimg=$(make_image 64M $opts)
	# shellcheck disable=SC2086
	uimg=$(make_image 64M $opts)
	if [ -n "$prep" ]; then
		"$prep" "$kimg"
		"$prep" "$uimg"
	fi
	kernel_mount "$kimg" "$WORK/k"
	chmod 755 "$WORK/k"
	"$fn" "$WORK/k" "$kimg" kernel > "$WORK/$name.kernel"
	kernel_umount "$WORK/k"
	mount_uext4 "$uimg" "$WORK/u" -o allow_other
	chmod 755 "$WORK/u"
	"$fn" "$WORK/u" "$uimg" uext4 > "$WORK/$name.uext4"
	umount_uext4 "$WORK/u" "$uimg"
	if ! diff -u "$WORK/$name.kernel" "$WORK/$name.uext4"; then
		fail "$name: uext4 differs from kernel ext4"
	fi
	fsck_clean "$uimg"
	fsck_clean "$kimg"
	LAST_UIMG=$uimg
}

t_basic() { probe basic "$1"; }
t_renames() { probe renames "$1"; }
t_times() { probe times "$1"; }
t_modes() { probe modes "$1"; }
t_unpriv() {
	probe unpriv-setup "$1"
	runuser -u nobody -- python3 "$PROBE" unpriv-a "$1"
	runuser -u daemon -- python3 "$PROBE" unpriv-b "$1"
}
t_enospc() { probe enospc "$1"; }
t_readdirs() { probe readdirs "$1"; }
t_inline() { probe inline "$1"; }
# prep_inline IMG - inline-data directories, made by the kernel.
prep_inline() {
	kernel_mount "$1" "$WORK/p"
	mkdir "$WORK/p/d" "$WORK/p/d/sub" "$WORK/p/d/sub2" "$WORK/p/e"
	touch "$WORK/p/d/a" "$WORK/p/d/b"
	ln -s target "$WORK/p/d/l"
	kernel_umount "$WORK/p"
	debugfs -R "stat /d" "$1" 2>/dev/null | grep -q "Size of inline data" ||
		fail "the kernel did not make /d inline"
}
t_ro() {
	local mnt=$1 img=$2 kind=$3
	mkdir "$mnt/d"
	touch "$mnt/f"
	ln -s target "$mnt/l"
	if [ "$kind" = kernel ]; then
		kernel_umount "$mnt"
		kernel_mount "$img" "$mnt" ro
	else
		umount_uext4 "$mnt" "$img"
		mount_uext4 "$img" "$mnt" -o ro
	fi
	probe ro "$mnt"
}
# nlink: the parent's / file's link count raised near 65000 with debugfs
# (the real count is restored afterwards for e2fsck).
t_nlink() {
	local mnt=$1 img=$2 kind=$3
	probe nlink-setup "$mnt"
	if [ "$kind" = kernel ]; then kernel_umount "$mnt"; else umount_uext4 "$mnt" "$img"; fi
	debugfs -w -R "sif /big links_count 64998" "$img" >/dev/null 2>&1
	debugfs -w -R "sif /f links_count 64998" "$img" >/dev/null 2>&1
	if [ "$kind" = kernel ]; then kernel_mount "$img" "$mnt"; else mount_uext4 "$img" "$mnt"; fi
	probe nlink-run "$mnt"
	if [ "$kind" = kernel ]; then kernel_umount "$mnt"; else umount_uext4 "$mnt" "$img"; fi
	debugfs -w -R "sif /big links_count 2" "$img" >/dev/null 2>&1
	debugfs -w -R "sif /f links_count 1" "$img" >/dev/null 2>&1
	if [ "$kind" = kernel ]; then kernel_mount "$img" "$mnt"; else mount_uext4 "$img" "$mnt"; fi
}

both basic "" t_basic
both basic-1k "-b 1024 -O ^metadata_csum,^filetype" t_basic
both renames "" t_renames
both renames-1k "-b 1024" t_renames
both times "" t_times
both modes "" t_modes
both unpriv "" t_unpriv
both enospc "-N 64" t_enospc
both readdirs "" t_readdirs
both readdirs-1k "-b 1024" t_readdirs
both inline "-O inline_data" t_inline prep_inline
both ro "" t_ro
both nlink-dir_nlink "-b 1024" t_nlink
both nlink-no-dir_nlink "-b 1024 -O ^dir_nlink" t_nlink

# A new inode starts clean: the inode number of a removed file that had an
# in-inode xattr (freed by debugfs, which leaves the bytes) is given to a
# new file, which must not show that xattr.
log "inode reuse: no stale in-inode xattrs"
img=$(make_image 64M -I 256)
mount_uext4 "$img" "$WORK/u"
python3 -c 'import os, sys; p = sys.argv[1]; os.close(os.open(p, os.O_CREAT | os.O_WRONLY)); os.setxattr(p, "user.stale", b"1")' "$WORK/u/x"
old_ino=$(stat -c %i "$WORK/u/x")
umount_uext4 "$WORK/u" "$img"
debugfs -w -R "rm /x" "$img" >/dev/null 2>&1
fsck_clean "$img"
mount_uext4 "$img" "$WORK/u"
mkdir "$WORK/u/d"
for n in f1 f2 f3; do
	touch "$WORK/u/$n"
done
reused=0
for p in "$WORK/u/d" "$WORK/u/f1" "$WORK/u/f2" "$WORK/u/f3"; do
	[ "$(stat -c %i "$p")" = "$old_ino" ] && reused=1
	out=$(python3 -c 'import os, sys; print(os.listxattr(sys.argv[1]))' "$p")
	[ "$out" = "[]" ] || fail "new inode $p has xattrs: $out"
done
[ "$reused" = 1 ] || fail "inode $old_ino was not reused; the test proves nothing"
umount_uext4 "$WORK/u" "$img"
fsck_clean "$img"

# Block exhaustion (uext4 only; the kernel keeps other reserves): with the
# data blocks used up, mkdir, slow symlinks and growing a directory fail
# with ENOSPC and leave nothing behind, fast symlinks still work.
log "no free blocks"
img=$(make_image 16M -b 1024)
mount_uext4 "$img" "$WORK/u"
dd if=/dev/zero of="$WORK/u/fill" bs=64k status=none 2>/dev/null || true
python3 - "$WORK/u" <<'EOF'
import errno, os, sys
d = sys.argv[1]
def until_enospc(label, fn, limit):
    for i in range(limit):
        try:
            fn(i)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                sys.exit("%s: %s" % (label, errno.errorcode[e.errno]))
            return
    sys.exit("%s never gave ENOSPC" % label)
until_enospc("mkdir", lambda i: os.mkdir(os.path.join(d, "d%d" % i)), 100)
until_enospc("slow symlink", lambda i: os.symlink("q" * 200, os.path.join(d, "s%d" % i)), 100)
os.symlink("short", os.path.join(d, "fast"))
until_enospc("grow dir", lambda i: os.close(os.open(os.path.join(d, "f-%04d-%s" % (i, "y" * 60)), os.O_CREAT | os.O_WRONLY)), 5000)
os.unlink(os.path.join(d, "fill"))
os.mkdir(os.path.join(d, "after"))
EOF
umount_uext4 "$WORK/u" "$img"
fsck_clean "$img"

# Concurrent directory operations (uext4 only): four processes create,
# link, rename (plain, NOREPLACE, EXCHANGE), unlink, mkdir and rmdir over a
# shared set of names in three directories; every error must be one the
# operation can legitimately give, and the image must be e2fsck clean.
log "concurrent directory operations"
img=$(make_image 128M)
mount_uext4 "$img" "$WORK/u"
mkdir "$WORK/u/a" "$WORK/u/b" "$WORK/u/c"
seed=${SEED:-$RANDOM}
log "seed $seed"
pids=()
for w in 1 2 3 4; do
	python3 - "$WORK/u" $((seed + w)) 1500 <<'EOF' &
import ctypes, errno, os, random, sys
root, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
libc = ctypes.CDLL(None, use_errno=True)
rnd = random.Random(seed)
dirs = ["a", "b", "c"]
ok_errs = {errno.ENOENT, errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR,
           errno.ENOTDIR, errno.EINVAL, errno.EPERM}
def name():
    return os.path.join(root, rnd.choice(dirs), "n%02d" % rnd.randrange(30))
def rename2(a, b, f):
    if libc.renameat2(-100, a.encode(), -100, b.encode(), f):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
ops = [
    lambda: os.close(os.open(name(), os.O_CREAT | os.O_WRONLY, 0o644)),
    lambda: os.mkdir(name()),
    lambda: os.link(name(), name()),
    lambda: os.rename(name(), name()),
    lambda: rename2(name(), name(), 1),
    lambda: rename2(name(), name(), 2),
    lambda: os.unlink(name()),
    lambda: os.rmdir(name()),
    lambda: os.symlink("t", name()),
    lambda: os.listdir(os.path.join(root, rnd.choice(dirs))),
]
for i in range(n):
    try:
        rnd.choice(ops)()
    except OSError as e:
        if e.errno not in ok_errs:
            sys.exit("unexpected %s" % errno.errorcode.get(e.errno))
EOF
	pids+=($!)
done
for p in "${pids[@]}"; do
	wait "$p" || fail "a worker failed (seed $seed)"
done
python3 - "$WORK/u" <<'EOF'
import os, sys
for d, subdirs, files in os.walk(sys.argv[1]):
    for n in subdirs + files:
        os.lstat(os.path.join(d, n))
EOF
umount_uext4 "$WORK/u" "$img"
fsck_clean "$img"

log "RENAME_WHITEOUT (uext4 only): EINVAL"
img=$(make_image 64M)
mount_uext4 "$img" "$WORK/u"
out=$(probe whiteout "$WORK/u")
umount_uext4 "$WORK/u" "$img"
[ "$out" = "whiteout: EINVAL" ] || fail "whiteout: $out"
fsck_clean "$img"
log "ok"
