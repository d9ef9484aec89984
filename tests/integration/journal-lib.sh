# SPDX-License-Identifier: MIT
# Shared helpers for the journal, recovery and orphan integration scripts:
# source it after lib.sh.
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/journal-lib.sh"
#
# What is here: reading the superblock (needs_recovery, sb_field, in_use),
# making kernel crash images (shutdown_kernel), mounting uext4 and keeping
# its output or its exit status (uext4_try, run_uext4), listing and
# comparing mounted trees (tree_list, same_tree), comparing a replayed image
# with e2fsck's block for block (compare_images) and looking for sanitizer
# reports (sanitizer_clean). Sourcing it defines functions and variables
# only: it checks no requirement, mounts nothing and creates no file.

# Sanitizer reports in a daemon's stderr (sanitizer_clean).
SAN_RE='ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ERROR: ThreadSanitizer'

# Superblock fields that may differ between e2fsck's replay and uext4's
# replay + mount + unmount (SB_ALLOWED), or uext4's replay and refusal
# (SB_ALLOWED_REFUSED). s_state may differ only in its VALID bit. Read by
# the scripts, passed to compare_images.
# shellcheck disable=SC2034
SB_ALLOWED=" s_mtime s_mtime_hi s_wtime s_wtime_hi s_mnt_count s_last_mounted s_state s_kbytes_written s_checksum "
# shellcheck disable=SC2034
SB_ALLOWED_REFUSED=" s_wtime s_wtime_hi s_state s_kbytes_written s_checksum "

# Start offset and name of every struct ext4_super_block field.
SB_FIELDS='0 s_inodes_count 4 s_blocks_count_lo 8 s_r_blocks_count_lo
12 s_free_blocks_count_lo 16 s_free_inodes_count 20 s_first_data_block
24 s_log_block_size 28 s_log_cluster_size 32 s_blocks_per_group
36 s_clusters_per_group 40 s_inodes_per_group 44 s_mtime 48 s_wtime
52 s_mnt_count 54 s_max_mnt_count 56 s_magic 58 s_state 60 s_errors
62 s_minor_rev_level 64 s_lastcheck 68 s_checkinterval 72 s_creator_os
76 s_rev_level 80 s_def_resuid 82 s_def_resgid 84 s_first_ino
88 s_inode_size 90 s_block_group_nr 92 s_feature_compat
96 s_feature_incompat 100 s_feature_ro_compat 104 s_uuid 120 s_volume_name
136 s_last_mounted 200 s_algorithm_usage_bitmap 204 s_prealloc_blocks
205 s_prealloc_dir_blocks 206 s_reserved_gdt_blocks 208 s_journal_uuid
224 s_journal_inum 228 s_journal_dev 232 s_last_orphan 236 s_hash_seed
252 s_def_hash_version 253 s_jnl_backup_type 254 s_desc_size
256 s_default_mount_opts 260 s_first_meta_bg 264 s_mkfs_time
268 s_jnl_blocks 336 s_blocks_count_hi 340 s_r_blocks_count_hi
344 s_free_blocks_count_hi 348 s_min_extra_isize 350 s_want_extra_isize
352 s_flags 356 s_raid_stride 358 s_mmp_update_interval 360 s_mmp_block
368 s_raid_stripe_width 372 s_log_groups_per_flex 373 s_checksum_type
374 s_encryption_level 375 s_reserved_pad 376 s_kbytes_written
384 s_snapshot_inum 388 s_snapshot_id 392 s_snapshot_r_blocks_count
400 s_snapshot_list 404 s_error_count 408 s_first_error_time
412 s_first_error_ino 416 s_first_error_block 424 s_first_error_func
456 s_first_error_line 460 s_last_error_time 464 s_last_error_ino
468 s_last_error_line 472 s_last_error_block 480 s_last_error_func
512 s_mount_opts 576 s_usr_quota_inum 580 s_grp_quota_inum
584 s_overhead_clusters 588 s_backup_bgs 596 s_encrypt_algos
600 s_encrypt_pw_salt 616 s_lpf_ino 620 s_prj_quota_inum
624 s_checksum_seed 628 s_wtime_hi 629 s_mtime_hi 630 s_mkfs_time_hi
631 s_lastcheck_hi 632 s_first_error_time_hi 633 s_last_error_time_hi
634 s_first_error_errcode 635 s_last_error_errcode 636 s_encoding
638 s_encoding_flags 640 s_orphan_file_inum 644 s_reserved 1020 s_checksum'

# ---- superblock -------------------------------------------------------------

# needs_recovery IMG - succeeds when IMG's superblock has needs_recovery.
# dumpe2fs is read to the end before grep sees it: it exits 1 on a damaged
# journal after printing the superblock, and a pipeline would turn that
# into "no".
needs_recovery() {
	local sb
	sb=$(dumpe2fs -h "$1" 2>/dev/null || true)
	grep -q '^Filesystem features:.*needs_recovery' <<<"$sb"
}

# sb_field IMG FIELD - prints the value dumpe2fs -h gives for FIELD
# ("Free inodes", "First orphan inode", ...); nothing when IMG has no such
# field. Always succeeds.
sb_field() {
	{ dumpe2fs -h "$1" 2>/dev/null || true; } | sed -n "s/^$2: *//p"
}

# in_use IMG INO - succeeds when debugfs says inode INO of IMG is marked in
# use.
in_use() {
	debugfs -R "testi <$2>" "$1" 2>&1 | grep -q "is marked in use"
}

# ---- kernel crash images ----------------------------------------------------

# shutdown_kernel MNT [IMG [UNMOUNTED]] - crash the kernel ext4 mount MNT
# with EXT4_IOC_SHUTDOWN, LOGFLUSH (the running transaction is committed,
# nothing else written; needs $UEXT4_TEST_SHUTDOWN), then unmount it.
# Without IMG the image is left as the unmount leaves it. With IMG, IMG is
# left as the crash left it: copied before the unmount, which still writes
# home blocks from the kernel's dirty buffers; with UNMOUNTED as well, the
# image as the unmount left it is moved there. Fails the test (exit 1) when
# the shutdown fails; an unmount failure fails it through set -e.
shutdown_kernel() {
	local mnt=$1 img=${2:-} unmounted=${3:-}
	"$UEXT4_TEST_SHUTDOWN" "$mnt" logflush || fail "EXT4_IOC_SHUTDOWN failed"
	[ -z "$img" ] || cp --sparse=always "$img" "$img.crash"
	kernel_umount "$mnt"
	[ -z "$unmounted" ] || mv "$img" "$unmounted"
	[ -z "$img" ] || mv "$img.crash" "$img"
}

# ---- mounting uext4 ---------------------------------------------------------

# uext4_try IMG MNT [uext4 options...] - mount IMG on MNT with uext4 (the
# daemon goes to the background). Sets OUT (what uext4 printed, stderr
# included) and RC (its exit status); MNT is registered for cleanup when
# RC is 0. Always returns RC: `uext4_try ... || fail "...: $OUT"`, or read
# RC afterwards.
uext4_try() {
	local img=$1 mnt=$2
	shift 2
	mkdir -p "$mnt"
	RC=0
	# shellcheck disable=SC2034  # read by the caller
	OUT=$("$UEXT4" "$@" "$img" "$mnt" 2>&1) || RC=$?
	[ "$RC" != 0 ] || _MOUNTS+=("$mnt")
	return "$RC"
}

# is_mounted MNT - succeeds when MNT is a mount point in /proc/self/mounts
# (does not touch MNT: safe on a hung FUSE mount).
is_mounted() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts
}

# status_text RC - prints "exit N", "signal NAME" (RC above 128) or "hang"
# (RC "hang", from run_uext4).
status_text() {
	if [ "$1" = hang ]; then
		echo "hang"
	elif [ "$1" -gt 128 ]; then
		echo "signal $(kill -l $(($1 - 128)) 2>/dev/null || echo $(($1 - 128)))"
	else
		echo "exit $1"
	fi
}

# run_uext4 IMG MNT LOG [uext4 options...] - run the daemon in the
# foreground (its whole stderr, sanitizer reports included, goes to LOG),
# unmount as soon as it has mounted (after listing its tree into $LIST_TO
# with tree_list, when LIST_TO is set: read-write mounts that are listed
# get -o noatime, so that the listing writes nothing; a listing that fails
# or takes over 300 s is ignored), and wait for it to exit (up to 120 s,
# then it is killed). Sets RC (exit status, 128+signal, or "hang") and
# MOUNTED (1 when it mounted). Returns 0: the caller judges RC.
run_uext4() {
	local img=$1 mnt=$2 log=$3 pid i
	shift 3
	mkdir -p "$mnt"
	_MOUNTS+=("$mnt")
	MOUNTED=0
	RC=0
	"$UEXT4" -f "$@" "$img" "$mnt" 2>"$log" &
	pid=$!
	for ((i = 0; i < 1200; i++)); do
		is_mounted "$mnt" && { MOUNTED=1; break; }
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	is_mounted "$mnt" && MOUNTED=1
	if [ "$MOUNTED" = 1 ] && [ -n "${LIST_TO:-}" ]; then
		timeout 300 bash -c "$(declare -f tree_list); tree_list '$mnt' '$LIST_TO' 2>/dev/null" || true
	fi
	if [ "$MOUNTED" = 1 ]; then
		timeout 60 umount "$mnt" || { fuse_abort "$mnt"; umount -l "$mnt" || true; }
	fi
	for ((i = 0; i < 2400; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		RC=hang
		return 0
	fi
	wait "$pid" || RC=$?
}

# sanitizer_clean LOG - succeeds when LOG holds no sanitizer report (SAN_RE);
# otherwise prints its first 60 lines to stderr and returns 1.
sanitizer_clean() {
	if grep -qE "$SAN_RE" "$1"; then
		sed -n '1,60p' "$1" >&2
		return 1
	fi
}

# ---- trees ------------------------------------------------------------------

# tree_list DIR OUT [SKIP] - list every entry of DIR: path, type, mode,
# size, link count, mtime, symlink target, sorted (OUT.list), and the
# sha256 of every regular file (OUT.sum). SKIP (e.g. ./lost+found) is left
# out with everything below it. Stops at the first step that fails and
# returns non-zero (find's and sha256sum's complaints go to stderr). For a
# damaged image that may show unreadable entries, call it with 2>/dev/null
# and without set -e or pipefail (as run_uext4 does): both lists are then
# written, unreadable entries left out.
tree_list() {
	local dir=$1 out=$2 skip=()
	[ -z "${3:-}" ] || skip=(-path "$3" -prune -o)
	(
		cd "$dir" &&
		find . "${skip[@]}" -printf '%p %y %m %s %n %T@ %l\n' |
			LC_ALL=C sort > "$out.list" &&
		find . "${skip[@]}" -type f -print0 | LC_ALL=C sort -z |
			xargs -0 -r sha256sum > "$out.sum"
	)
}

# same_tree A B [LINES] - succeeds when the listings A and B (tree_list)
# agree; otherwise prints the first LINES (10) lines of each differing
# diff, indented, and returns 1.
same_tree() {
	local ext rc=0
	for ext in list sum; do
		cmp -s "$1.$ext" "$2.$ext" && continue
		diff "$1.$ext" "$2.$ext" | head -"${3:-10}" | sed 's/^/    /'
		rc=1
	done
	return "$rc"
}

# ---- block-for-block comparison ---------------------------------------------

# sb_copies IMG - byte offsets of the superblock and of its backups.
sb_copies() {
	local bs
	bs=$(dumpe2fs -h "$1" 2>/dev/null | awk -F: '/^Block size/ { print $2 + 0 }')
	echo 1024
	[ -n "$bs" ] || return 0
	dumpe2fs "$1" 2>/dev/null | grep -o 'Backup superblock at [0-9]*' |
		awk -v bs="$bs" '{ print $4 * bs }'
}

# compare_images REF IMG ALLOWED - IMG equals REF block for block, except
# for the superblock fields listed in ALLOWED (in any superblock copy).
# Prints the differing blocks and fields; returns 1 on a difference not
# allowed (then also the dumpe2fs -h diff of the two, unless
# SHOW_DUMPE2FS=0). ALLOWED is a space-separated list with a space at
# both ends (SB_ALLOWED, SB_ALLOWED_REFUSED).
compare_images() {
	local ref=$1 img=$2 allowed=$3 bs nblocks fsbytes rsize isize jsb copies out rc=0
	bs=$(dumpe2fs -h "$ref" 2>/dev/null | awk -F: '/^Block size/ { print $2 + 0 }')
	bs=${bs:-1024}
	nblocks=$(dumpe2fs -h "$ref" 2>/dev/null | awk -F: '/^Block count/ { print $2 + 0 }')
	rsize=$(stat -c %s "$ref")
	isize=$(stat -c %s "$img")
	fsbytes=$((${nblocks:-0} * bs))
	[ "$fsbytes" -gt 0 ] || fsbytes=$rsize
	# e2fsck replays a journal block tagged past the end of the file
	# system into the image file, growing it; that is not part of the
	# file system. uext4 must not write there.
	if [ "$rsize" -gt "$fsbytes" ] && [ "$rsize" -gt "$isize" ]; then
		echo "  note: e2fsck wrote past the end of the file system (image grew to $rsize bytes, file system $fsbytes): not compared"
	fi
	if [ "$isize" -gt "$rsize" ] && [ "$isize" -gt "$fsbytes" ]; then
		echo "  uext4 wrote past the end of the file system: image grew from $rsize to $isize bytes"
		rc=1
	fi
	jsb=$(debugfs -R 'bmap <8> 0' "$ref" 2>/dev/null | tr -dc 0-9)
	copies=$(sb_copies "$ref" | tr '\n' ' ')
	out=$({ cmp -l -n "$fsbytes" "$ref" "$img" 2>&1 || true; } | awk -v bs="$bs" -v jsb="${jsb:--1}" \
		-v copies="$copies" -v fields="$SB_FIELDS" -v allowed="$allowed" '
		function oct(s,   i, v) {
			v = 0
			for (i = 1; i <= length(s); i++)
				v = v * 8 + substr(s, i, 1)
			return v
		}
		BEGIN {
			nc = split(copies, c, " ")
			nf = split(fields, f, /[ \n]+/)
			for (i = 1; i + 1 <= nf; i += 2) {
				fo[++n] = f[i] + 0
				fname[n] = f[i + 1]
			}
		}
		/^cmp:/ { print "  " $0; bad = 1; next }
		{
			off = $1 - 1
			for (i = 1; i <= nc; i++)
				if (off >= c[i] && off < c[i] + 1024)
					break
			if (i > nc) {
				b = int(off / bs)
				if (!(b in nb))
					order[++nblk] = b
				nb[b]++
				next
			}
			rel = off - c[i]
			for (j = n; j > 1 && fo[j] > rel; j--)
				;
			name = fname[j]
			ok = index(allowed, " " name " ") > 0
			if (name == "s_state" && (rel != 58 ||
			    int(oct($2) / 2) != int(oct($3) / 2)))
				ok = 0
			key = name (ok ? "" : "(NOT ALLOWED)")
			if (!(key in seen)) {
				seen[key] = 1
				keys = keys " " key
				if (!ok)
					bad = 1
			}
		}
		END {
			if (keys != "")
				print "  superblock fields differing:" keys
			for (k = 1; k <= nblk && k <= 20; k++) {
				b = order[k]
				printf "  block %d differs (%d bytes)%s\n", b, nb[b],
					b == jsb ? " [journal superblock]" : ""
			}
			if (nblk > 20)
				printf "  ... %d blocks differ in all\n", nblk
			if (nblk > 0)
				bad = 1
			exit bad
		}') || rc=$?
	[ -z "$out" ] || echo "$out"
	if [ "${SHOW_DUMPE2FS:-1}" = 1 ] && [ "$rc" != 0 ] && echo "$out" | grep -q 'NOT ALLOWED'; then
		echo "  dumpe2fs -h, e2fsck (<) vs uext4 (>):"
		diff <(dumpe2fs -h "$ref" 2>&1) <(dumpe2fs -h "$img" 2>&1) | sed 's/^/    /' || true
	fi
	return "$rc"
}
