#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A file system without the ext_attr feature (ext2-era images): it has no
# attributes, so ACL lookups find none (the root must stay listable: the
# kernel asks for system.posix_acl_access on every permission check), and
# the first attribute stored turns the feature on, as kernel ext4 does.
. "$(dirname "$0")/lib.sh"
require_root
require_cmd getfattr setfattr

for kind in ext2 ext4; do
	img=$(make_image 32M -t "$kind" -O ^ext_attr)
	dumpe2fs -h "$img" 2>/dev/null | grep -q ext_attr && fail "mkfs left ext_attr on"
	mnt=$WORK/mnt-$kind
	mount_uext4 "$img" "$mnt"
	echo data > "$mnt/f" || fail "$kind: create in the root failed"
	ls "$mnt" > "$WORK/ls" || fail "$kind: root not listable without ext_attr"
	grep -qx f "$WORK/ls" || fail "$kind: f missing from the listing"
	[ -z "$(getfattr -d -m - "$mnt/f" 2>/dev/null)" ] || fail "$kind: attributes reported"
	if getfattr -n user.x "$mnt/f" 2>"$WORK/err"; then fail "$kind: user.x exists"; fi
	grep -q "No such attribute" "$WORK/err" || fail "$kind: getfattr: $(cat "$WORK/err")"
	setfattr -n user.x -v hello "$mnt/f" || fail "$kind: setfattr failed"
	[ "$(getfattr --only-values -n user.x "$mnt/f")" = hello ] || fail "$kind: value lost"
	umount_uext4 "$mnt" "$img"
	dumpe2fs -h "$img" 2>/dev/null | grep -q ext_attr || fail "$kind: ext_attr not turned on"
	fsck_clean "$img"
	log "$kind without ext_attr: ok"
done
