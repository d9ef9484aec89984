#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# atime updates on read, readdir and readlink, as kernel ext4 does them:
# relatime by default (update when atime <= mtime or ctime, or a day old;
# norelatime alone does not change that), strictatime (every access; it
# beats noatime), noatime and nodiratime (none), none on a read-only
# mount, none through an O_NOATIME descriptor. (-o relatime itself is
# refused by libfuse 3.14.) The same sequence
# runs on a kernel ext4 loop mount and on uext4; it prints only whether
# each atime changed, and the two transcripts must be equal (and match the
# table below, which spells out the kernel's rules).
#
# Not covered, as FUSE never tells the daemon about them: reads the kernel
# serves from its page cache alone, at EOF, or of an empty file.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd dd readlink

# at PATH - atime with nanoseconds, of the symlink itself for a symlink.
at() { stat -c %x "$1"; }

# check LABEL PATH CMD... - run CMD and print whether PATH's atime changed.
# The pauses let even a coarse (jiffy) clock move on between steps.
check() {
	local label=$1 path=$2 before after
	shift 2
	before=$(at "$path")
	"$@" >/dev/null
	after=$(at "$path")
	if [ "$before" = "$after" ]; then
		echo "$label: same"
	else
		echo "$label: changed"
	fi
	sleep 0.05
}

# prepare DIR - a file, a directory with an entry and a symlink, all with
# atime 1970-01-02 (touch -a also sets ctime to now).
prepare() {
	local d=$1
	mkdir -p "$d/dir"
	echo data > "$d/file"
	: > "$d/dir/a"
	ln -sfn file "$d/link"
	sleep 0.05
	touch -h -a -d @86400 "$d/file" "$d/dir" "$d/link"
	sleep 0.05
}

# access TAG DIR - read the file, list the directory, read the link.
access() {
	local tag=$1 d=$2
	check "$tag file" "$d/file" cat "$d/file"
	check "$tag dir" "$d/dir" ls "$d/dir"
	check "$tag link" "$d/link" readlink "$d/link"
}

# sequence MODE MNT - the accesses for mount mode MODE (already mounted).
sequence() {
	local mode=$1 d=$2/$1
	prepare "$d"
	access "$mode old" "$d"
	access "$mode again" "$d"
	# newer mtime (file, dir) or ctime (link): due again under relatime
	echo more >> "$d/file"
	: > "$d/dir/b"
	touch -h -m "$d/link"
	sleep 0.05
	access "$mode modified" "$d"
	access "$mode unmodified" "$d"
	touch -h -a -d @86400 "$d/file"
	sleep 0.05
	check "$mode O_NOATIME file" "$d/file" \
		dd if="$d/file" of=/dev/null iflag=noatime status=none
}

# run_all KIND IMG MNT - every mode on one image; KIND is kernel or uext4.
run_all() {
	local kind=$1 img=$2 mnt=$3 o
	for o in norelatime strictatime noatime nodiratime noatime,strictatime \
		 relatime,lazytime; do
		case $kind in
		kernel) kernel_mount "$img" "$mnt" "$o" ;;
		uext4) mount_uext4 "$img" "$mnt" -o "$o" ;;
		esac
		sequence "$o" "$mnt"
		case $kind in
		kernel) kernel_umount "$mnt" ;;
		uext4) umount_uext4 "$mnt" "$img" ;;
		esac
	done
	# the default mode (no option) is relatime
	case $kind in
	kernel) kernel_mount "$img" "$mnt" ;;
	uext4) mount_uext4 "$img" "$mnt" ;;
	esac
	sequence default "$mnt"
	prepare "$mnt/ro"
	case $kind in
	kernel) kernel_umount "$mnt"; kernel_mount "$img" "$mnt" ro ;;
	uext4) umount_uext4 "$mnt" "$img"; mount_uext4 "$img" "$mnt" -o ro ;;
	esac
	access ro "$mnt/ro"
	case $kind in
	kernel) kernel_umount "$mnt" ;;
	uext4) umount_uext4 "$mnt" "$img" ;;
	esac
}

expected() {
	local o
	for o in norelatime strictatime noatime nodiratime noatime,strictatime \
		 relatime,lazytime default; do
		case $o in
		norelatime | nodiratime | relatime,lazytime | default)
			cat <<-EOF
			$o old file: changed
			$o old dir: $([ "$o" = nodiratime ] && echo same || echo changed)
			$o old link: changed
			$o again file: same
			$o again dir: same
			$o again link: same
			$o modified file: changed
			$o modified dir: $([ "$o" = nodiratime ] && echo same || echo changed)
			$o modified link: changed
			$o unmodified file: same
			$o unmodified dir: same
			$o unmodified link: same
			EOF
			;;
		strictatime | noatime,strictatime)
			for s in old again modified unmodified; do
				printf '%s %s %s: changed\n' "$o" "$s" file "$o" "$s" dir \
					"$o" "$s" link
			done
			;;
		noatime)
			for s in old again modified unmodified; do
				printf '%s %s %s: same\n' "$o" "$s" file "$o" "$s" dir \
					"$o" "$s" link
			done
			;;
		esac
		echo "$o O_NOATIME file: same"
	done
	printf 'ro %s: same\n' file dir link
}

expected > "$WORK/expected"

kimg=$(make_image 32M)
run_all kernel "$kimg" "$WORK/kmnt" > "$WORK/kernel"
log "kernel ext4 done"
if ! diff -u "$WORK/expected" "$WORK/kernel"; then
	fail "kernel ext4 does not behave as this test expects (see diff)"
fi

uimg=$(make_image 32M)
run_all uext4 "$uimg" "$WORK/umnt" > "$WORK/uext4"
if ! diff -u "$WORK/kernel" "$WORK/uext4"; then
	fail "uext4 atime updates differ from kernel ext4 (see diff)"
fi
log "uext4 matches kernel ext4 ($(wc -l < "$WORK/uext4") checks)"
fsck_clean "$kimg"
fsck_clean "$uimg"
