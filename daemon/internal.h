/* SPDX-License-Identifier: MIT */
/*
 * daemon/internal.h — what the daemon's files share: the mount context, the
 * in-memory inode table, credentials, inode helpers, reply helpers and the
 * FUSE lowlevel handlers that ops.c puts in the one static ops table.
 *
 * Files (one job each):
 *   main.c       argument parsing entry, daemonizing, exit status
 *   options.c    -o option parsing and validation
 *   lifecycle.c  open image, feature checks, mount, serve, unmount
 *   recover.c    journal replay at mount (needs_recovery): to the image,
 *                or into memory for a read-only mount
 *   orphan.c     orphan list and orphan file processing at rw mount
 *   ops.c        the static const struct fuse_lowlevel_ops
 *   itable.c     inode table: iget/iput, lookup counts, eviction
 *   inode.c      on-disk inode read/write, stat, timestamps, credentials
 *   reply.c      reply helpers (entry, attr, error)
 *   attr.c       getattr, setattr, access, statfs
 *   namei.c      lookup, name checks; htree.c: dir_index lookups
 *   dir.c        mkdir, mknod, symlink, readlink, link, unlink, rmdir
 *   newinode.c   allocation and initialisation of new inodes
 *   rename.c     rename, RENAME_NOREPLACE, RENAME_EXCHANGE
 *   readdir.c    opendir, readdir(plus), releasedir, fsyncdir
 *   file.c       create, open, read, write, flush, release, fsync,
 *                fallocate, lseek
 *   xattr.c      get/set/list/removexattr, ACL inheritance
 *
 * Lock order (DESIGN.md): inode rwlock → folio lock → journal handle →
 * metadata lock (efs.meta_lock). The inode table lock (itable_lock) is a
 * leaf: taken alone, never while calling libext2fs or waiting.
 * Handlers drop every lock before their single fuse_reply_*().
 */
#ifndef UEXT4_DAEMON_INTERNAL_H
#define UEXT4_DAEMON_INTERNAL_H

#define FUSE_USE_VERSION 314

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include <ext2fs/ext2fs.h>

#include "cache.h"
#include "extent.h"

struct journal_overlay;		/* journal.h */
struct journal_recovery_info;	/* journal.h */

#define DAEMON_NAME_MAX 255

/**
 * enum daemon_atime_mode - when a read, readdir or readlink updates atime
 * (the kernel's MNT_RELATIME / MNT_NOATIME, atime_needs_update()).
 * @DAEMON_RELATIME:    default: when atime <= mtime, atime <= ctime, or
 *                      atime is a day old or more.
 * @DAEMON_STRICTATIME: strictatime: on every access.
 * @DAEMON_NOATIME:     noatime: never.
 * A read-only mount never updates atime, whatever the mode.
 */
enum daemon_atime_mode {
	DAEMON_RELATIME = 0,
	DAEMON_STRICTATIME,
	DAEMON_NOATIME,
};

/**
 * struct daemon_opts - parsed command line (options.c).
 */
struct daemon_opts {
	char *image;		/* IMAGE argument (owned) */
	char *mountpoint;	/* MOUNTPOINT argument (owned) */
	bool foreground;	/* -f */
	bool readonly;		/* ro (or forced: ro_compat, ro image) */
	bool norecovery;	/* norecovery/noload: never replay (implies ro) */
	bool allow_other;
	bool default_permissions; /* on unless fakeroot */
	bool fakeroot;		/* every caller acts as root */
	bool debug;
	uint64_t offset;	/* offset=BYTES */
	size_t cache_size;	/* cache_size=SIZE (bytes) */
	int errors;		/* enum extent_errors, 0 = from superblock */
	char *fsname;		/* shown in /proc/mounts (owned) */
	char *subtype;		/* "uext4" */
	char *fuse_opts;	/* generic mount flags for libfuse, "a,b" (owned, may be NULL) */
	bool writeback_cache;	/* -o writeback_cache: kernel write-back caching */
	bool kernel_cache;	/* -o kernel_cache: keep page cache across opens */
	enum daemon_atime_mode atime; /* from the flags below, as path_mount() */
	bool nodiratime;	/* nodiratime: never update a directory's atime */
	bool ms_noatime;	/* noatime given (atime clears it) */
	bool ms_strictatime;	/* strictatime given (nostrictatime clears it) */
};

/** Exit statuses of the uext4 command (documented in docs/uext4.8). */
enum daemon_exit {
	DAEMON_EXIT_OK = 0,	  /* mounted (or -h/-V), or clean unmount */
	DAEMON_EXIT_USAGE = 1,	  /* bad command line or option value */
	DAEMON_EXIT_IMAGE = 2,	  /* image missing, wrong type, no permission */
	DAEMON_EXIT_REFUSED = 3,  /* not ext2/3/4, unsupported feature, needs recovery */
	DAEMON_EXIT_MOUNT = 4,	  /* FUSE mount failed (mountpoint, /dev/fuse) */
	DAEMON_EXIT_INTERNAL = 5, /* other error (memory, I/O, unmount writes) */
};

/**
 * struct daemon_inode - an inode the kernel or the daemon holds.
 *
 * @ei:         extent/ state (size, rwlock, mapping); first member.
 * @ino:        inode number, the table key (set before @ei is initialised).
 * @hash_next:  inode table chain.
 * @nlookup:    the kernel's lookup count.
 * @refs:       daemon references (in-flight ops, open handles, the
 *              table's own while @nlookup > 0).
 * @nopen:      open file handles.
 * @evicting:   eviction started (or the inode is still being loaded);
 *              iget waits for it to finish.
 * @atime_until: atime shortcut: an access whose CLOCK_REALTIME seconds are
 *              below this value needs no atime update; 0 = unknown (look
 *              at the inode). Written under efs.meta_lock, read without
 *              any lock: see "atime" in inode.c for why that is safe.
 * All but @ei and @atime_until are protected by daemon_fs.itable_lock.
 */
struct daemon_inode {
	struct extent_inode ei;
	ext2_ino_t ino;		/* table key (= ei.ino); constant */
	struct daemon_inode *hash_next;
	uint64_t nlookup;
	unsigned int refs;
	unsigned int nopen;
	bool evicting;
	_Atomic int64_t atime_until;
};

/**
 * struct daemon_fs - one mount.
 * @efs:        ext4 file system state and the metadata lock.
 * @opts:       options; constant after parsing.
 * @se:         the FUSE session.
 * @itable_lock: protects the table (@buckets, @nbuckets, @count) and the
 *              counts in every daemon_inode. Leaf lock.
 * @itable_cond: signalled when an eviction finishes.
 * @entry_timeout, @attr_timeout: kernel cache timeouts (seconds).
 * @writeback_cache, @keep_cache: kernel caching modes chosen at init.
 */
struct daemon_fs {
	struct extent_fs efs;
	struct daemon_opts opts;
	struct fuse_session *se;

	pthread_mutex_t itable_lock;
	pthread_cond_t itable_cond;
	struct daemon_inode **buckets;
	size_t nbuckets;
	size_t count;

	double entry_timeout;
	double attr_timeout;
	bool writeback_cache;
	bool keep_cache;

	/*
	 * Read-only mount of an image needing recovery: the journal
	 * replayed in memory, installed as efs.bdev's read overlay for the
	 * life of the mount; freed after the engine is closed. NULL
	 * otherwise. Constant while the mount serves.
	 */
	struct journal_overlay *overlay;
};

/**
 * daemon_ino() - the ext4 inode number of FUSE node @nodeid: the FUSE root
 * (FUSE_ROOT_ID, 1) is ext4's root directory (EXT2_ROOT_INO, 2); every other
 * nodeid is the inode number itself.
 */
static inline ext2_ino_t daemon_ino(fuse_ino_t nodeid)
{
	return nodeid == FUSE_ROOT_ID ? EXT2_ROOT_INO : (ext2_ino_t)nodeid;
}

/** daemon_nodeid() - the FUSE nodeid of ext4 inode @ino (inverse of above). */
static inline fuse_ino_t daemon_nodeid(ext2_ino_t ino)
{
	return ino == EXT2_ROOT_INO ? FUSE_ROOT_ID : (fuse_ino_t)ino;
}

/** daemon_fs_of() - the mount a request belongs to (fuse_req_userdata). */
struct daemon_fs *daemon_fs_of(fuse_req_t req);

/* ---- options.c / lifecycle.c ------------------------------------------ */

/**
 * daemon_parse_args() - parse argv into @opts. Prints a message naming the
 * problem (unknown option, bad value, missing argument) and returns -EINVAL;
 * returns 1 when -h/--version was handled (exit 0), 0 to go on.
 */
int daemon_parse_args(int argc, char **argv, struct daemon_opts *opts);
void daemon_opts_free(struct daemon_opts *opts);

/** daemon_parse_opt_list() - apply one comma-separated -o list to @opts. */
int daemon_parse_opt_list(struct daemon_opts *opts, const char *list);

/**
 * daemon_parse_size() - "512M"-style size (K/M/G/T binary multiples).
 * Return: 0 with *@out in bytes, or -EINVAL.
 */
int daemon_parse_size(const char *s, uint64_t *out);

/**
 * daemon_run() - open the image, mount, signal @ready_fd (write one byte
 * when the mount is usable; -1 if none), serve until unmounted, write the
 * superblock clean. Return: process exit status.
 */
int daemon_run(struct daemon_opts *opts, int ready_fd);

/**
 * daemon_fault_inject_setup() - test hook: make the device fail with EIO
 * where UEXT4_FAULT_EIO says (faultinject.c). Return: 0 or -EINVAL.
 */
int daemon_fault_inject_setup(struct cache_bdev *bdev);

/**
 * daemon_recover() - replay the journal of an image marked needs_recovery
 * (recover.c), before anything else is written: map the journal inode
 * through a read-only libext2fs open, replay with journal_recover(), then
 * clear needs_recovery in the superblock and record what the replay found
 * (errors, not valid), as `e2fsck -E journal_only` does.
 * @dfs: opts and efs.bdev set (opened read-write); efs.fs not open yet.
 * Prints one line on success, a message naming the reason otherwise.
 * Context: mount time, single-threaded.
 * Return: 0, or the exit status to refuse the mount with
 * (DAEMON_EXIT_REFUSED, DAEMON_EXIT_INTERNAL).
 */
int daemon_recover(struct daemon_fs *dfs);

/**
 * daemon_recover_to_memory() - the read-only counterpart of
 * daemon_recover() (recover.c): map the journal inode, open the journal
 * read-only, replay it with journal_recover_to_memory(), store the
 * result in @dfs->overlay and install it as the read overlay of
 * @dfs->efs.bdev, so that every later read (the libext2fs open of the
 * mount included) sees the replayed blocks. Writes nothing.
 * @dfs:     opts and efs.bdev set (read-only is enough); efs.fs not open.
 * @info:    what the replay found (for the in-memory superblock).
 * @damaged: set when the log was damaged: what it held was replayed as
 *           far as possible and the mount goes on (a warning printed).
 * Prints one line ("recovery complete (in memory, image not written)").
 * Context: mount time, single-threaded.
 * Return: 0, or the exit status to refuse the mount with
 * (DAEMON_EXIT_REFUSED: fast commits, a damaged journal superblock or
 * inode, an external journal; DAEMON_EXIT_INTERNAL: I/O error, memory).
 */
int daemon_recover_to_memory(struct daemon_fs *dfs,
			     struct journal_recovery_info *info,
			     bool *damaged);

/**
 * daemon_recover_mark_super() - what a replay leaves in superblock @sb
 * (CPU byte order, libext2fs's fs->super): needs_recovery cleared,
 * EXT2_ERROR_FS for @info->fs_error, EXT2_VALID_FS cleared for
 * @info->fs_not_valid or a @damaged log that left neither mark.
 */
void daemon_recover_mark_super(struct ext2_super_block *sb,
			       const struct journal_recovery_info *info,
			       bool damaged);

/**
 * daemon_orphan_cleanup() - at a read-write mount, finish what the orphan
 * list (s_last_orphan, chained through i_dtime) and the orphan file
 * record (orphan.c), as the kernel's ext4_orphan_cleanup(): free the
 * unlinked inodes, cut the others back to i_size. Skipped on a file
 * system with errors (the list is cleared, the orphan file kept for
 * e2fsck). Bad entries stop the walk of their list and mark the file
 * system with errors; nothing is freed on their account.
 * Context: mount time, meta_lock held, no inode in the table.
 * Return: 0, or -errno of a failed write (a message is printed either way).
 */
int daemon_orphan_cleanup(struct daemon_fs *dfs);

/** daemon_lowlevel_ops() - the one static FUSE ops table (ops.c). */
const struct fuse_lowlevel_ops *daemon_lowlevel_ops(void);

/* ---- itable.c ---------------------------------------------------------- */

/**
 * daemon_iget() - find or load inode @ino and take a daemon reference.
 * Checks @ino against the inode count, reads and sanity-checks the on-disk
 * inode (bad mode, links_count 0 → -ENOENT for a stale nodeid, unreadable →
 * -EUCLEAN/-EIO via extent_errcode()).
 * Context: no lock held. Return: 0 or -errno.
 */
int daemon_iget(struct daemon_fs *dfs, ext2_ino_t ino,
		struct daemon_inode **out);

/**
 * daemon_iput() - drop a daemon reference. When no reference and no lookup
 * remains, the inode is evicted: dirty data written back, and if its link
 * count is 0 its blocks, xattrs and the inode itself are freed.
 * Context: no lock held.
 */
void daemon_iput(struct daemon_fs *dfs, struct daemon_inode *di);

/** daemon_lookup_inc() - one more kernel lookup of @di (before replying). */
void daemon_lookup_inc(struct daemon_fs *dfs, struct daemon_inode *di);

/** daemon_forget() - the kernel forgets @nlookup lookups of @ino. */
void daemon_forget(struct daemon_fs *dfs, ext2_ino_t ino, uint64_t nlookup);

/** daemon_itable_find() - referenced inode if in memory, else NULL. */
struct daemon_inode *daemon_itable_find(struct daemon_fs *dfs, ext2_ino_t ino);

/**
 * daemon_itable_times_changed() - inode @ino was written: forget its atime
 * shortcut (@atime_until = 0) if it is in memory. Takes no reference.
 * Context: meta_lock held (called by daemon_write_inode()); takes
 * itable_lock, a leaf.
 */
void daemon_itable_times_changed(struct daemon_fs *dfs, ext2_ino_t ino);

/**
 * daemon_itable_sync_all() - write back every in-memory inode's dirty data
 * (unmount, statfs-free syncs). Return: first -errno or 0.
 */
int daemon_itable_sync_all(struct daemon_fs *dfs);

/** daemon_itable_evict_all() - at unmount: drop every inode. */
void daemon_itable_evict_all(struct daemon_fs *dfs);

/**
 * daemon_free_inode() - free inode @ino whose link count is 0 on disk:
 * blocks, xattrs (block and EA inodes), then dtime, bitmap and counters,
 * as the kernel's ext4_evict_inode(). No cached data of @ino may remain
 * (eviction drops it first; the orphan walk runs before any inode is
 * loaded). A no-op when the inode has links again.
 * Context: meta_lock held. Return: 0 or -errno.
 */
int daemon_free_inode(struct daemon_fs *dfs, ext2_ino_t ino);

/* ---- inode.c ----------------------------------------------------------- */

/**
 * struct daemon_cred - the caller of a request.
 * With fakeroot, uid = gid = 0 and every check passes.
 *
 * The supplementary groups are loaded lazily: fuse_req_getgroups() reads
 * /proc/<pid>/task/<tid>/status, which cost more than the whole rest of a
 * create, and most requests never need them (root, the owner, or a gid
 * that is the primary one). @groups_req is the request to load them from
 * (NULL: @groups/@ngroups are final); daemon_cred_in_group() loads them on
 * first use. A cred therefore lives only while its request is unanswered
 * (every handler builds it, uses it and drops it before its reply).
 */
struct daemon_cred {
	uid_t uid;
	gid_t gid;
	mode_t umask;
	int ngroups;
	fuse_req_t groups_req;
	gid_t groups[64];
};

/**
 * daemon_cred_of() - credentials of @req (fuse_req_ctx; the supplementary
 * groups are only looked up when daemon_cred_in_group() needs them).
 */
void daemon_cred_of(struct daemon_fs *dfs, fuse_req_t req,
		    struct daemon_cred *cred);

/** daemon_cred_in_group() - @gid is the caller's group or supplementary. */
bool daemon_cred_in_group(const struct daemon_cred *cred, gid_t gid);

/**
 * daemon_read_inode() / daemon_write_inode() - the full on-disk inode
 * (ext2fs_read_inode_full/_write_inode_full with sizeof large inode),
 * errors translated with extent_errcode().
 * Context: meta_lock held.
 */
int daemon_read_inode(struct daemon_fs *dfs, ext2_ino_t ino,
		      struct ext2_inode_large *inode);
int daemon_write_inode(struct daemon_fs *dfs, ext2_ino_t ino,
		       struct ext2_inode_large *inode);

/*
 * daemon_write_inode() also resets the in-memory atime shortcut of @ino
 * (daemon_itable_times_changed()): every change of a timestamp goes
 * through it.
 */

/** Which timestamps daemon_inode_touch() sets. */
enum {
	DAEMON_ATIME = 1u << 0,
	DAEMON_MTIME = 1u << 1,
	DAEMON_CTIME = 1u << 2,
	DAEMON_CRTIME = 1u << 3,
};

/** daemon_now() - the current time (CLOCK_REALTIME). */
void daemon_now(struct timespec *ts);

/**
 * daemon_inode_get_time()/daemon_inode_set_time() - one timestamp with
 * nanoseconds and the extra epoch bits when the inode has room for them
 * (i_extra_isize), seconds only otherwise.
 */
struct timespec daemon_inode_get_time(const struct ext2_inode_large *inode,
				      unsigned int which);
void daemon_inode_set_time(struct ext2_inode_large *inode, unsigned int which,
			   const struct timespec *ts);

/** daemon_inode_touch() - set the @which timestamps to now. */
void daemon_inode_touch(struct ext2_inode_large *inode, unsigned int which);

/**
 * daemon_inode_accessed() - a read or readdir of @di succeeded: update its
 * atime to now when the mount's atime mode (and nodiratime, the inode's
 * noatime flag, a read-only mount) says so. @isdir: @di is a directory.
 * @noatime: the handle was opened with O_NOATIME. Cheap when nothing is
 * due: an atomic load and a clock read, no lock.
 * Context: no lock held; takes meta_lock only when an update may be due.
 * Return: 0 or -errno (the access itself has succeeded either way).
 */
int daemon_inode_accessed(struct daemon_fs *dfs, struct daemon_inode *di,
			  bool isdir, bool noatime);

/**
 * daemon_inode_accessed_locked() - the same for the caller's fresh copy
 * @inode of inode @ino (readlink, which holds meta_lock anyway): sets the
 * atime in @inode and writes it when due. No shortcut.
 * Context: meta_lock held. Return: 0 or -errno.
 */
int daemon_inode_accessed_locked(struct daemon_fs *dfs, ext2_ino_t ino,
				 struct ext2_inode_large *inode);

/**
 * daemon_fill_stat() - struct stat of inode @ino from its on-disk form;
 * the size comes from the in-memory inode @di when given (it may be ahead
 * of i_size on disk). Context: meta_lock held (reads fs fields).
 */
void daemon_fill_stat(struct daemon_fs *dfs, ext2_ino_t ino,
		      const struct ext2_inode_large *inode,
		      const struct daemon_inode *di, struct stat *st);

/** daemon_inode_uid()/gid()/set_uid()/set_gid() - with the high 16 bits. */
uid_t daemon_inode_uid(const struct ext2_inode_large *inode);
gid_t daemon_inode_gid(const struct ext2_inode_large *inode);
void daemon_inode_set_uid(struct ext2_inode_large *inode, uid_t uid);
void daemon_inode_set_gid(struct ext2_inode_large *inode, gid_t gid);

/**
 * daemon_check_writable() - -EROFS on a read-only mount (including after
 * errors=remount-ro), else 0.
 */
int daemon_check_writable(struct daemon_fs *dfs);

/**
 * daemon_permission() - may @cred access @inode with @mask (R_OK, W_OK,
 * X_OK)? Owner/group/other bits and POSIX ACLs as the kernel checks them;
 * root passes except X_OK on files with no x bit. Used where the kernel
 * cannot check for us (access(2), and fakeroot-off paths that need it).
 * Context: meta_lock held. Return: 0 or -EACCES.
 */
int daemon_permission(struct daemon_fs *dfs, const struct daemon_cred *cred,
		      ext2_ino_t ino, const struct ext2_inode_large *inode,
		      int mask);

/* ---- attr.c ------------------------------------------------------------ */

struct statvfs;

/**
 * daemon_fill_statvfs() - statfs numbers of the mount (f_blocks without
 * metadata overhead, f_bavail = free minus reserved). Context: meta_lock held.
 */
void daemon_fill_statvfs(struct daemon_fs *dfs, struct statvfs *sv);

/**
 * daemon_acl_apply_mode() - update an xattr-format access ACL (@buf, @len)
 * for chmod to @mode as posix_acl_chmod() does. Return: 0 or -EINVAL.
 */
int daemon_acl_apply_mode(void *buf, size_t len, mode_t mode);

/* ---- namei.c / htree.c ------------------------------------------------ */

/** daemon_check_name() - -ENAMETOOLONG over 255 bytes, -EINVAL for "", "/". */
int daemon_check_name(const char *name);

/**
 * daemon_dir_lookup() - find @name in directory @dir: the htree when the
 * directory is indexed (dir_index), a linear scan otherwise.
 * Context: meta_lock held. Return: 0 with *@ino set, -ENOENT, -ENOTDIR,
 * -EUCLEAN/-EIO for damaged directories.
 */
int daemon_dir_lookup(struct daemon_fs *dfs, ext2_ino_t dir, const char *name,
		      ext2_ino_t *ino);

/* ---- newinode.c ------------------------------------------------------- */

/**
 * daemon_new_inode() - allocate, initialise and link a new inode named
 * @name in @parent: owner from @cred (setgid directory inheritance, sgid
 * dropping as the kernel does), @mode exactly as passed (the kernel has
 * applied the umask unless a default ACL applies), timestamps now with
 * crtime, extents flag for files and directories, default ACL inherited
 * (xattr.c), the parent's mtime/ctime updated. For S_IFDIR creates "." and
 * "..", for S_IFLNK stores @symlink_target (fast or slow), for devices @rdev.
 * Context: meta_lock NOT held (taken inside). Return: 0 with *@ino, or
 * -errno (-EEXIST, -ENOSPC, -EMLINK, -ENAMETOOLONG, -EROFS...).
 */
int daemon_new_inode(struct daemon_fs *dfs, const struct daemon_cred *cred,
		     ext2_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev, const char *symlink_target, ext2_ino_t *ino);

/* ---- xattr.c ----------------------------------------------------------- */

/**
 * daemon_acl_inherit() - give new inode @ino the parent's default ACL
 * (as its access ACL masked by *@mode, and as its default ACL for a
 * directory) and adjust *@mode as the kernel's posix_acl_create() does.
 * Without a default ACL, applies @cred->umask. Context: meta_lock held.
 */
int daemon_acl_inherit(struct daemon_fs *dfs, const struct daemon_cred *cred,
		       ext2_ino_t parent, ext2_ino_t ino, mode_t *mode);

/* ---- reply.c ----------------------------------------------------------- */

/** daemon_reply_err() - reply with -@neg_errno (0 → success, no data). */
void daemon_reply_err(fuse_req_t req, int neg_errno);

/**
 * daemon_reply_entry() - build the entry for inode @ino (reading it), take
 * a kernel lookup on it, and reply. On failure replies the error.
 * Context: no lock held.
 */
void daemon_reply_entry(struct daemon_fs *dfs, fuse_req_t req, ext2_ino_t ino);

/**
 * daemon_make_entry() - fill @e for @ino and take one kernel lookup (the
 * caller replies with it). Return: 0 or -errno (no lookup taken then).
 */
int daemon_make_entry(struct daemon_fs *dfs, ext2_ino_t ino,
		      struct fuse_entry_param *e);

/* ---- handlers (ops.c puts them in the table) --------------------------- */

void daemon_op_init(void *userdata, struct fuse_conn_info *conn);
void daemon_op_destroy(void *userdata);
void daemon_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void daemon_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void daemon_op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets);
void daemon_op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi);
void daemon_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi);
void daemon_op_readlink(fuse_req_t req, fuse_ino_t ino);
void daemon_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev);
void daemon_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode);
void daemon_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void daemon_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void daemon_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name);
void daemon_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags);
void daemon_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname);
void daemon_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void daemon_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void daemon_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi);
void daemon_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void daemon_op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi);
void daemon_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi);
void daemon_op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi);
void daemon_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);
void daemon_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi);
void daemon_op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi);
void daemon_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			struct fuse_file_info *fi);
void daemon_op_statfs(fuse_req_t req, fuse_ino_t ino);
void daemon_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags);
void daemon_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size);
void daemon_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void daemon_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);
void daemon_op_access(fuse_req_t req, fuse_ino_t ino, int mask);
void daemon_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi);
void daemon_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi);
void daemon_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi);

#endif /* UEXT4_DAEMON_INTERNAL_H */
