#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-journal-kernel: journals written by kernel ext4, replayed by uext4,
# must give the same file system as e2fsck's replay.
#
# For every case: a fresh image is mounted by kernel ext4 on a loop device,
# a workload runs (syncfs at some points, so part of the log is already
# written home), and while the last operations are still in the running
# transaction the file system is shut down with EXT4_IOC_SHUTDOWN
# (LOGFLUSH: the running transaction is committed, nothing else is written)
# and unmounted. The image is taken as it is right after the shutdown,
# before the unmount writes the kernel's dirty metadata buffers home: as a
# crash would leave it, home blocks stale, the journal alone up to date.
# It must need recovery and is copied twice:
#   A: e2fsck -fy (replays the journal, exit 0 or 1);
#   B: mounted read-write by uext4 and unmounted (uext4 replays at mount).
# Both must be e2fsck -fn clean, without needs_recovery, with an empty log
# (B's journal sequence past the last replayed transaction), and:
#   - byte-identical but for the superblock and group descriptor copies
#     and the journal (the blocks that differ are named);
#   - mounted read-only by the kernel with noload, hold identical trees:
#     path, type, mode, owner, size, link count, inode number, st_blocks,
#     mtime, ctime and symlink target of every entry, the contents of
#     every regular file, every extended attribute (atime is left out).
#
# Cases (dumpe2fs must show the journal features expected of each):
#   small     a few files and directories
#   meta      thousands of creates, renames and unlinks in htree
#             directories, hard links, symlinks, xattrs (one in an xattr
#             block), chmod/chown, a removed tree (revoke records)
#   data      files with and without fsync, dd into existing files,
#             truncate, fallocate, punch/collapse/insert/zero range
#   wrap      a 1024-block journal whose log wraps past its end, inside a
#             transaction, at shutdown (seen in the logdump; the workload is
#             lengthened until it does)
#   wrap1k    the same with 1 KiB blocks
#   1k        1 KiB blocks, mixed workload (transactions with several
#             descriptor blocks)
#   32bit     ^64bit,^metadata_csum: no journal checksums, 32-bit tags
#   csum1     the same mounted with journal_checksum (v1 commit checksums)
#   async     the same mounted with journal_async_commit,data=writeback
#             (v1 checksums, asynchronous commit blocks)
#   ext3      mkfs -t ext3: block-mapped files, indirect blocks freed
#   revoke    200 logged xattr blocks freed (revoked) and, the file system
#             being otherwise full, reused by an fsync'd data file: replay
#             must skip them (checked: revoked blocks hold the file's data)
#   datajournal  data=journal: logged data blocks that begin with the
#             journal magic (escaped), commit-only transactions
# A case is repeated (at most 6 times) while its log does not wrap where it
# must or no home block is stale (a system-wide sync at the wrong time).
#
#   UEXT4_JK_CASES="small wrap"  run only these cases
#   UEXT4_JK_REPLAY=kernel       replay B with kernel ext4 instead of uext4
#                                (to check the test itself)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/journal-lib.sh"
require_root
require_cmd mkfs.ext4 e2fsck dumpe2fs debugfs losetup setfattr getfattr \
	fallocate sha256sum
: "${UEXT4_TEST_SHUTDOWN:?needs the shutdown helper (run through meson test)}"
[ -e /dev/loop-control ] || skip "needs loop devices"
losetup -f >/dev/null 2>&1 || skip "needs a free loop device"
grep -qw ext4 /proc/filesystems || modprobe ext4 2>/dev/null ||
	skip "needs kernel ext4"

CASES=${UEXT4_JK_CASES:-small meta data wrap wrap1k 1k 32bit csum1 async ext3 revoke datajournal}
REPLAY=${UEXT4_JK_REPLAY:-uext4}
KMNT=$WORK/k
UMNT=$WORK/u

# journal_walk IMG DUMP - walk the log with debugfs logdump (kept in DUMP);
# prints "START END
# LEN TRANSACTIONS DESCRIPTORS BLOCKS ESCAPED REVOKED WRAPPED": the first
# and the end block of the log, the journal's length, the transactions and
# their descriptor blocks, the logged
# blocks (ESCAPED of them escaped), the revoke records, and WRAPPED 1 when
# the walk goes from the journal's end back to its start between two
# transactions, 2 when inside one.
journal_walk() {
	local len
	len=$(dumpe2fs -h "$1" 2>/dev/null |
		awk -F: '/^Total journal blocks/ { print $2 + 0 }')
	debugfs -R 'logdump -a' "$1" 2>/dev/null > "$2"
	awk -v len="$len" '
		/^Journal starts at block/ { start = $5 + 0 }
		/^Found expected sequence/ {
			b = $NF + 0
			if (n++ && b < prev) {
				wrap = 1
				# the wrap inside a transaction?
				if ($0 !~ /type 1/)
					wrap = 2
			}
			prev = b
		}
		/\(commit block\)/ { tx++ }
		/\(descriptor block\)/ { desc++ }
		/^  FS block .* logged at journal block/ {
			blocks++
			f = $NF
			sub(/\)$/, "", f)
			if (substr(f, length(f)) ~ /[13579bdfBDF]/)
				esc++
		}
		/^  Revoke FS block/ { rv++ }
		/end of journal/ {
			for (i = 1; i < NF; i++)
				if ($i == "block")
					end = $(i + 1) + 0
		}
		END {
			printf "%d %d %d %d %d %d %d %d %d\n", start, end, len, tx,
				desc, blocks, esc, rv, wrap
		}' "$2"
}

# stale_blocks CRASH FINAL - how many blocks the unmount after the shutdown
# still wrote (from the kernel's dirty buffers): home blocks that only the
# replay brings up to date in the crash image.
stale_blocks() {
	local bs
	bs=$(dumpe2fs -h "$1" 2>/dev/null | awk -F: '/^Block size/ { print $2 + 0 }')
	{ cmp -l "$1" "$2" || true; } | awk -v bs="$bs" '
		BEGIN { last = -1 }
		{ b = int(($1 - 1) / bs); if (b != last) { n++; last = b } }
		END { print n + 0 }'
}

# image_diff A B - blocks in which the images A and B differ, except the
# superblock and group descriptor copies (mount and check times and
# counts, backups that e2fsck rewrites) and the journal (after replay its
# log is empty whatever its blocks hold; its superblock is checked apart).
image_diff() {
	local bs
	bs=$(dumpe2fs -h "$1" 2>/dev/null | awk -F: '/^Block size/ { print $2 + 0 }')
	{
		debugfs -R 'blocks <8>' "$1" 2>/dev/null | tr ' ' '\n' | grep .
		dumpe2fs "$1" 2>/dev/null | awk '/superblock at/ {
			s = $0
			sub(/.*superblock at /, "", s)
			sub(/,.*/, "", s)
			print s + 0
			if ($0 ~ /Group descriptors at/) {
				g = $0
				sub(/.*Group descriptors at /, "", g)
				split(g, r, "-")
				for (i = r[1] + 0; i <= r[2] + 0; i++)
					print i
			}
		}'
	} > "$WORK/sbgdt"
	{ cmp -l "$1" "$2" || true; } | awk -v bs="$bs" '
		NR == FNR { ok[$1] = 1; next }
		FNR == 1 { last = -1 }
		{
			b = int(($1 - 1) / bs)
			if (b != last && !(b in ok))
				print b
			last = b
		}' "$WORK/sbgdt" -
}

# block_owner IMG BLOCK - what BLOCK of IMG holds, for messages.
block_owner() {
	local what
	what=$(dumpe2fs "$1" 2>/dev/null | awk -v b="$2" '
		/^Group [0-9]+:/ { g = $2; sub(/:/, "", g) }
		/(Block bitmap|Inode bitmap|Inode table) at/ {
			r = $0
			sub(/.* at /, "", r)
			sub(/ .*/, "", r)
			sub(/,$/, "", r)
			n = split(r, x, "-")
			if (n == 1)
				x[2] = x[1]
			if (b >= x[1] + 0 && b <= x[2] + 0) {
				t = $0
				sub(/^ */, "", t)
				sub(/ at .*/, "", t)
				print t " of group " g
				exit
			}
		}')
	[ -n "$what" ] || what=$(debugfs -R "icheck $2" "$1" 2>/dev/null |
		awk 'NR == 2 { print ($2 ~ /^[0-9]+$/) ? "in inode " $2 : $2 " " $3 " " $4 }')
	echo "$what"
}

# snapshot IMG OUT - mount IMG read-only without replay and record its
# tree (OUT.list), file contents (OUT.sum) and xattrs (OUT.xattr).
snapshot() {
	local img=$1 out=$2
	kernel_mount "$img" "$WORK/s" ro,noload
	(
		cd "$WORK/s"
		find . -printf '%p %y %m %U %G %s %n %i %b %T@ %C@ %l\n' |
			LC_ALL=C sort > "$out.list"
		find . -type f -print0 | LC_ALL=C sort -z |
			xargs -0 -r sha256sum > "$out.sum"
		find . -print0 | LC_ALL=C sort -z |
			xargs -0 -r getfattr -h -d -m - -e hex > "$out.xattr" 2>/dev/null
	)
	kernel_umount "$WORK/s"
}

# compare A B WHAT - the snapshots must agree.
compare() {
	local a=$1 b=$2 what=$3 ext
	for ext in list sum xattr; do
		if ! cmp -s "$a.$ext" "$b.$ext"; then
			echo "$what: $ext differs (e2fsck '<', $REPLAY '>'):"
			diff "$a.$ext" "$b.$ext" | head -40 || true
			fail "$what: trees differ after replay"
		fi
	done
}

# ----------------------------------------------------------------------
# Workloads: WORKLOAD MNT ATTEMPT, run with set -e. Each leaves operations
# in the running transaction for the shutdown to commit.

# fill TAG BYTES - BYTES of data, the same on every run, no two blocks of
# it (nor of different TAGs) alike.
fill() {
	{ seq -f "$1 %012g" 1 $(($2 / 14 + 1)) || true; } | head -c "$2"
}

wl_small() {
	local m=$1
	mkdir -p "$m/a/b/c" "$m/d"
	echo hello > "$m/a/hello"
	fill rand 20000 > "$m/a/b/rand"
	sync -f "$m"
	echo world > "$m/a/b/c/world"
	ln -s ../a/hello "$m/d/link"
	setfattr -n user.small -v v1 "$m/a/hello"
	mv "$m/a/b/rand" "$m/d/rand"
	rm -r "$m/a/b/c"
	mkdir "$m/late"
	echo late > "$m/late/f"
}

wl_meta() {
	local m=$1 d i
	for d in h1 h2 h3 h4 h6; do
		mkdir "$m/$d"
		for ((i = 0; i < 800; i++)); do
			: > "$m/$d/a-fairly-long-file-name-to-fill-blocks-$i"
		done
	done
	sync -f "$m"
	# renames within and across directories, some replacing
	for ((i = 0; i < 300; i += 2)); do
		mv "$m/h1/a-fairly-long-file-name-to-fill-blocks-$i" \
			"$m/h2/renamed-$i"
	done
	mv "$m/h3/a-fairly-long-file-name-to-fill-blocks-1" \
		"$m/h3/a-fairly-long-file-name-to-fill-blocks-2"
	# unlink a range
	for ((i = 100; i < 400; i++)); do
		rm -f "$m/h4/a-fairly-long-file-name-to-fill-blocks-$i"
	done
	# hard links, symlinks (fast and slow), chmod/chown, xattrs
	mkdir "$m/links"
	for ((i = 0; i < 40; i++)); do
		ln "$m/h3/a-fairly-long-file-name-to-fill-blocks-$((i + 10))" \
			"$m/links/hard-$i"
	done
	ln -s short "$m/links/fast"
	ln -s "$(printf 'x%.0s' $(seq 1 300))/long/target" "$m/links/slow"
	for ((i = 0; i < 60; i++)); do
		chmod $((600 + i % 8 * 10)) "$m/h2/renamed-$((i * 2))"
		chown $((1000 + i)):$((2000 + i % 3)) \
			"$m/h3/a-fairly-long-file-name-to-fill-blocks-$((i + 50))"
	done
	for ((i = 0; i < 50; i++)); do
		setfattr -n user.x -v "value-$i" "$m/h1/a-fairly-long-file-name-to-fill-blocks-$((i * 2 + 1))"
	done
	# an xattr block of its own
	setfattr -n user.big -v "$(head -c 1500 /dev/zero | tr '\0' 'b')" "$m/links/hard-0"
	setfattr -n user.dir -v dirvalue "$m/h2"
	sync -f "$m"
	# still in the running transaction at shutdown: more creates, a
	# deleted directory tree (revoke records), more renames
	mkdir "$m/h5"
	for ((i = 0; i < 500; i++)); do
		: > "$m/h5/late-$i"
	done
	rm -rf "$m/h4"
	for ((i = 1; i < 100; i += 2)); do
		mv "$m/h1/a-fairly-long-file-name-to-fill-blocks-$i" "$m/h5/"
	done
	setfattr -x user.x "$m/h5/a-fairly-long-file-name-to-fill-blocks-1"
	chmod 1777 "$m/h5"
}

wl_data() {
	local m=$1 s i=0
	mkdir "$m/data"
	for s in 0 1 4095 4096 4097 65536 1000000 3000000; do
		fill "sync-$i" "$s" > "$m/data/sync-$i"
		sync "$m/data/sync-$i"
		fill "nosync-$i" "$s" > "$m/data/nosync-$i"
		i=$((i + 1))
	done
	fill dd $((40 * 65536)) |
		dd of="$m/data/dd" bs=64k iflag=fullblock conv=fsync status=none
	fill dd2 $((10 * 4096)) | dd of="$m/data/dd" bs=4k seek=100 \
		iflag=fullblock conv=notrunc,fsync status=none
	sync -f "$m"
	truncate -s 123457 "$m/data/sync-7"
	truncate -s 10M "$m/data/sync-6"
	fallocate -l 8M "$m/data/falloc"
	fallocate -n -o 8M -l 1M "$m/data/falloc"
	fill falloc 100000 | dd of="$m/data/falloc" bs=1k seek=2000 \
		iflag=fullblock conv=notrunc,fsync status=none
	fallocate -p -o 1M -l 2M "$m/data/dd"
	sync "$m/data/dd"
	fallocate -c -o 64k -l 128k "$m/data/sync-6"
	fallocate -i -o 0 -l 64k "$m/data/nosync-6"
	fallocate -z -o 4096 -l 8192 "$m/data/nosync-5"
	for ((i = 0; i < 20; i++)); do
		fill "sparse-$i" 4096 | dd of="$m/data/sparse" bs=4k \
			seek=$((i * 37)) iflag=fullblock conv=notrunc status=none
	done
	sync "$m/data/sparse"
	# running transaction at shutdown
	truncate -s 0 "$m/data/sync-4"
	rm -f "$m/data/nosync-7"
	fill late 50000 > "$m/data/late"
	sync "$m/data/late"
	fallocate -p -o 0 -l 8k "$m/data/sparse"
}

# Many small commits on a small journal; lengthened on every attempt until
# the live log wraps at shutdown.
wl_wrap() {
	local m=$1 n=$((280 + 53 * $2)) i
	mkdir "$m/w"
	for ((i = 0; i < n; i++)); do
		mkdir "$m/w/d$i"
		echo "$i" > "$m/w/d$i/f"
		[ $((i % 3)) = 0 ] && ln -s f "$m/w/d$i/l"
		sync "$m/w/d$i/f"
		if [ $((i % 50)) = 49 ]; then
			sync -f "$m"
		fi
	done
	for ((i = 0; i < n; i += 7)); do
		rm -r "$m/w/d$i"
	done
	echo last > "$m/w/last"
}

wl_mixed() {
	wl_small "$1"
	wl_data "$1"
	mkdir "$1/m"
	local i
	for ((i = 0; i < 300; i++)); do
		: > "$1/m/file-$i"
	done
	sync -f "$1"
	for ((i = 0; i < 300; i += 3)); do
		mv "$1/m/file-$i" "$1/m/moved-$i"
	done
}

# ext3: block-mapped files (indirect blocks freed by truncate and unlink).
wl_ext3() {
	local m=$1 i
	wl_small "$m"
	mkdir "$m/e"
	fill big 3000000 > "$m/e/big"
	fill mid 300000 > "$m/e/mid"
	sync "$m/e/big"
	for ((i = 0; i < 300; i++)); do
		: > "$m/e/file-$i"
	done
	sync -f "$m"
	truncate -s 100000 "$m/e/big"
	rm "$m/e/mid"
	for ((i = 0; i < 300; i += 3)); do
		mv "$m/e/file-$i" "$m/e/moved-$i"
	done
	ln "$m/e/file-1" "$m/e/hard"
	fill late 70000 > "$m/e/late"
	sync "$m/e/late"
}

# Data blocks that begin with the journal magic (escaped in the log).
wl_datajournal() {
	local m=$1 i
	mkdir "$m/dj"
	for ((i = 0; i < 64; i++)); do
		printf '\xc0\x3b\x39\x98'
		fill "magic-$i" 4092
	done > "$m/dj/magic"
	sync "$m/dj/magic"
	fill plain 300000 > "$m/dj/plain"
	sync -f "$m"
	dd if="$m/dj/magic" of="$m/dj/plain" bs=4k count=8 seek=3 \
		conv=notrunc status=none
	wl_small "$m"
	for ((i = 0; i < 16; i++)); do
		printf '\xc0\x3b\x39\x98'
		head -c 4092 /dev/zero
	done > "$m/dj/late-magic"
}

# Revoked blocks reused for file data: 200 xattr blocks are logged, freed
# (revoke records) and, the file system being full otherwise, taken by an
# fsync'd data file. Replay must not write the old xattr blocks over it.
wl_revoke() {
	local m=$1 dev bs i
	dev=$(basename "$(findmnt -n -o SOURCE "$m")")
	# no space held back for metadata: the data has only the freed blocks
	echo 0 > "/sys/fs/ext4/$dev/reserved_clusters"
	bs=$(stat -f -c %S "$m")
	mkdir "$m/x" "$m/rv"
	for ((i = 0; i < 200; i++)); do
		: > "$m/x/f$i"
		setfattr -n user.big -v "$i-$(printf "%01200d" "$i")" "$m/x/f$i"
	done
	sync -f "$m"
	fallocate -l $((($(stat -f -c %a "$m") - 8) * bs)) "$m/filler"
	rm -r "$m/x"
	sync -f "$m"
	fill data $((($(stat -f -c %a "$m") - 8) * bs)) > "$m/rv/data"
	sync "$m/rv/data"
	echo late > "$m/rv/late"
}

# reused_revoked IMG DUMP - blocks of rv/data in the replayed IMG that the
# log DUMP revokes.
reused_revoked() {
	comm -12 \
		<(awk '/^  Revoke FS block/ { print $4 }' "$2" | sort -u) \
		<(debugfs -R 'blocks /rv/data' "$1" 2>/dev/null | tr ' ' '\n' |
			grep . | sort -u) | wc -l
}

# ----------------------------------------------------------------------

# run_case NAME SIZE WRAP "MKFS OPTIONS" "MOUNT OPTIONS" WORKLOAD JFEATURES
# (WRAP 1: the log must wrap inside a transaction; JFEATURES: pattern for dumpe2fs's journal
# features of the image needing recovery)
run_case() {
	local name=$1 size=$2 want_wrap=$3 mopts=$5 wl=$6 want_jfeat=$7
	local attempt img rc jfeat
	local -a mkopts
	read -r -a mkopts <<< "$4"
	local start end len tx ndesc nb esc rv wrap stale
	for attempt in 1 2 3 4 5 6; do
		img=$(make_image "$size" "${mkopts[@]}")
		kernel_mount "$img" "$KMNT" "$mopts"
		set +e
		(set -e; "$wl" "$KMNT" "$attempt")
		rc=$?
		set -e
		[ $rc = 0 ] || fail "$name: workload failed (exit $rc)"
		# The image as a crash right after the shutdown leaves it: the
		# unmount writes the dirty metadata buffers of the committed
		# transactions to their home blocks, the crash image does not
		# have them (the unmounted image is kept apart, to count them).
		shutdown_kernel "$KMNT" "$img" "$img.umounted"
		needs_recovery "$img.umounted" ||
			fail "$name: image does not need recovery after the unmount"
		stale=$(stale_blocks "$img" "$img.umounted")
		rm -f "$img.umounted"
		needs_recovery "$img" ||
			fail "$name: image does not need recovery after the shutdown"
		read -r start end len tx ndesc nb esc rv wrap <<< \
			"$(journal_walk "$img" "$WORK/$name.logdump")"
		[ "$tx" -gt 0 ] || fail "$name: no transaction in the log"
		jfeat=$(dumpe2fs -h "$img" 2>/dev/null |
			sed -n 's/^Journal features: *//p')
		# shellcheck disable=SC2053
		[[ $jfeat == $want_jfeat ]] ||
			fail "$name: journal features '$jfeat', expected '$want_jfeat'"
		[ "$want_wrap" = 0 ] || [ "$wrap" = 2 ] || {
			log "$name: log $start..$end of $len did not wrap inside a transaction, longer workload"
			rm -f "$img"
			continue
		}
		# (a sync of the whole system at the wrong time writes them all)
		[ "$stale" -gt 0 ] || {
			log "$name: no stale home block: replay would change nothing, again"
			rm -f "$img"
			continue
		}
		break
	done
	[ "$want_wrap" = 0 ] || [ "$wrap" = 2 ] ||
		fail "$name: the log never wrapped inside a transaction"
	[ "$stale" -gt 0 ] ||
		fail "$name: no stale home block in any attempt"
	[ "$wl" != wl_datajournal ] || [ "$esc" -gt 0 ] ||
		fail "$name: no escaped block in the log"

	local a=$WORK/$name.A b=$WORK/$name.B
	cp --sparse=always "$img" "$a"
	cp --sparse=always "$img" "$b"
	rm -f "$img"

	rc=0
	e2fsck -fy "$a" > "$WORK/$name.fsck" 2>&1 || rc=$?
	[ $rc -le 1 ] || {
		cat "$WORK/$name.fsck" >&2
		fail "$name: e2fsck -fy exit $rc"
	}

	case $REPLAY in
	uext4)
		mount_uext4 "$b" "$UMNT" ||
			fail "$name: uext4 did not mount the image needing recovery"
		umount_uext4 "$UMNT" "$b"
		;;
	kernel)
		kernel_mount "$b" "$WORK/r"
		kernel_umount "$WORK/r"
		;;
	*)
		fail "unknown UEXT4_JK_REPLAY=$REPLAY"
		;;
	esac

	! needs_recovery "$a" || fail "$name: e2fsck left needs_recovery set"
	! needs_recovery "$b" || fail "$name: $REPLAY left needs_recovery set"
	fsck_clean "$a"
	fsck_clean "$b"
	local extra=""
	if [ "$wl" = wl_revoke ]; then
		local reused
		reused=$(reused_revoked "$a" "$WORK/$name.logdump")
		[ "$reused" -gt 0 ] ||
			fail "$name: no revoked block was reused for file data"
		extra=", $reused revoked blocks reused for data"
	fi

	# Replay writes the same blocks whoever does it: apart from the
	# superblocks and descriptors, the images must be byte-identical.
	local diffb
	diffb=$(image_diff "$a" "$b" | head -20)
	if [ -n "$diffb" ]; then
		local blk
		for blk in $diffb; do
			echo "block $blk: $(block_owner "$a" "$blk")"
		done
		fail "$name: the images replayed by e2fsck and by $REPLAY differ in these blocks"
	fi
	local last seq_b x
	last=$(awk '/^Found expected sequence/ { t = $4 + 0 } END { print t + 0 }' \
		"$WORK/$name.logdump")
	for x in "$a" "$b"; do
		dumpe2fs -h "$x" 2>/dev/null | grep -q '^Journal start: *0$' ||
			fail "$name: journal of $x still has a log after replay"
	done
	seq_b=$(($(dumpe2fs -h "$b" 2>/dev/null |
		awk '/^Journal sequence/ { print $3 }')))
	[ "$seq_b" -gt "$last" ] ||
		fail "$name: $REPLAY left journal sequence $seq_b, not past the last replayed transaction $last"

	snapshot "$a" "$a"
	snapshot "$b" "$b"
	compare "$a" "$b" "$name"

	log "$name: $tx transactions, $ndesc descriptors, $nb blocks ($esc escaped), $rv revoked in log $start..$end of $len$(wrap_note "$wrap"), $stale stale home blocks$extra; journal: $jfeat; $(wc -l < "$a.list") entries, $(wc -l < "$a.sum") files; e2fsck (exit $rc) and $REPLAY agree"
	rm -f "$a" "$b" "$a".* "$b".* "$WORK/$name.logdump"
}

wrap_note() {
	case $1 in
	1) echo " (wrapped)" ;;
	2) echo " (wrapped inside a transaction)" ;;
	esac
}

V3="*journal_64bit journal_checksum_v3"
for c in $CASES; do
	case $c in
	small) run_case small 128M 0 "-T default" "" wl_small "$V3" ;;
	meta) run_case meta 256M 0 "-T default" "" wl_meta "$V3" ;;
	data) run_case data 256M 0 "-T default" "" wl_data "$V3" ;;
	wrap) run_case wrap 128M 1 "-T default -J size=4" "" wl_wrap "$V3" ;;
	1k) run_case 1k 128M 0 "-T small" "" wl_mixed "$V3" ;;
	32bit) run_case 32bit 128M 0 "-T default -O ^64bit,^metadata_csum" "" \
		wl_mixed journal_incompat_revoke ;;
	csum1) run_case csum1 128M 0 "-T default -O ^64bit,^metadata_csum" \
		journal_checksum wl_mixed "journal_checksum journal_incompat_revoke" ;;
	async) run_case async 128M 0 "-T default -O ^64bit,^metadata_csum" \
		journal_async_commit,data=writeback wl_mixed \
		"journal_checksum*journal_async_commit" ;;
	wrap1k) run_case wrap1k 128M 1 "-T small -J size=1" "" wl_wrap "$V3" ;;
	ext3) run_case ext3 128M 0 "-t ext3 -T default" "" wl_ext3 \
		journal_incompat_revoke ;;
	revoke) run_case revoke 64M 0 "-T default -m 0" "" wl_revoke "$V3" ;;
	datajournal) run_case datajournal 128M 0 "-T default" data=journal \
		wl_datajournal "$V3" ;;
	*) fail "unknown case $c" ;;
	esac
done
log "all cases passed"
