#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# test-corpus: every e2fsprogs test image (damaged file systems, journals in
# every state, odd block sizes) mounted read-only by uext4 in the foreground
# and walked completely, twice (uext4-test-walk: lstat, readdir, read,
# readlink, xattrs). Refusing an image with a message is fine; per-object
# EIO/EUCLEAN is fine. A failure is: the daemon killed by a signal, a hang
# (mount, walk or unmount; the connection is then aborted through fusectl),
# a sanitizer report in the daemon's log, the daemon still running after the
# unmount, the image file changed (ro must not write), or more errors in the
# second walk than in the first (one damaged object took others down).
# One line per image: refused/mounted, walk counts, result.
#
#   UEXT4_CORPUS=DIR        image directory (default $UEXT4_SHARED/corpus/e2fsprogs-images)
#   UEXT4_CORPUS_MATCH=RE   only images whose name matches RE
#   UEXT4_WALK_TIMEOUT=120  seconds for one walk
. "$(dirname "$0")/lib.sh"
require_root
require_cmd gzip bzip2 sha256sum timeout
: "${UEXT4_TEST_WALK:?needs the walk helper (run through meson test)}"

CORPUS=${UEXT4_CORPUS:-$UEXT4_SHARED/corpus/e2fsprogs-images}
MATCH=${UEXT4_CORPUS_MATCH:-.}
WALK_TIMEOUT=${UEXT4_WALK_TIMEOUT:-120}
[ -d "$CORPUS" ] || skip "no corpus at $CORPUS"

SAN_RE='ERROR: AddressSanitizer|runtime error:|LeakSanitizer|ERROR: ThreadSanitizer'
nimg=0 nfail=0 nref=0 nmnt=0
failures=()

# is_mounted MNT - MNT is in the mount table (mountpoint(1) stats the root,
# which fails when the image's root inode is damaged).
is_mounted() {
	awk -v m="$1" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts
}

# wait_mounted PID MNT SECONDS - 0 mounted, 1 daemon exited, 2 timeout.
wait_mounted() {
	local pid=$1 mnt=$2 t=$3 i
	for ((i = 0; i < t * 20; i++)); do
		is_mounted "$mnt" && return 0
		kill -0 "$pid" 2>/dev/null || {
			is_mounted "$mnt" && return 0
			return 1
		}
		sleep 0.05
	done
	return 2
}

# wait_exit PID SECONDS - 0 when PID is gone.
wait_exit() {
	local pid=$1 t=$2 i
	for ((i = 0; i < t * 20; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# status_text RC - "exit N" or "signal NAME".
status_text() {
	if [ "$1" -gt 128 ]; then
		echo "signal $(kill -l $(($1 - 128)) 2>/dev/null || echo $(($1 - 128)))"
	else
		echo "exit $1"
	fi
}

check_image() {
	local src=$1 name img mnt log pid rc st sum0 sum1 walkout result="PASS" why=()
	name=$(basename "$src")
	name=${name%.gz}
	name=${name%.bz2}
	img=$WORK/$name
	mnt=$WORK/mnt
	log=$WORK/$name.log
	case "$src" in
	*.gz) gzip -dc "$src" > "$img" ;;
	*.bz2) bzip2 -dc "$src" > "$img" ;;
	*) cp "$src" "$img" ;;
	esac
	sum0=$(sha256sum < "$img")
	mkdir -p "$mnt"
	_MOUNTS+=("$mnt")

	"$UEXT4" -f -o ro "$img" "$mnt" > "$log" 2>&1 &
	pid=$!
	st=0
	wait_mounted "$pid" "$mnt" 30 || st=$?
	if [ $st = 2 ]; then
		why+=("mount hung")
		fuse_abort "$mnt"
		umount -l "$mnt" 2>/dev/null || true
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		summary="hung at mount"
	elif [ $st = 1 ]; then
		rc=0
		wait "$pid" || rc=$?
		summary="refused ($(status_text $rc): $(grep -v '^\s*$' "$log" | head -1 | sed "s#$WORK/##" | cut -c1-100))"
		nref=$((nref + 1))
		if [ $rc -gt 128 ]; then
			why+=("daemon died by $(status_text $rc)")
		elif [ $rc = 0 ]; then
			why+=("daemon exited 0 without mounting")
		elif ! grep -q '[^[:space:]]' "$log"; then
			why+=("refused without a message")
		fi
	else
		nmnt=$((nmnt + 1))
		rc=0
		walkout=$(timeout -k 10 "$WALK_TIMEOUT" "$UEXT4_TEST_WALK" "$mnt" 2>&1) || rc=$?
		walkout=$(echo "$walkout" | tail -1)
		if [ $rc = 124 ] || [ $rc = 137 ]; then
			why+=("walk hung (> ${WALK_TIMEOUT}s)")
			fuse_abort "$mnt"
		elif [ $rc != 0 ]; then
			walkout="walk exit $rc: $walkout"
		fi
		summary="mounted, $walkout"
		if [ $rc = 0 ]; then
			# A second walk: objects readable the first time must
			# stay readable (one damaged object must not take the
			# rest of the mount down).
			local walk2 e1 e2
			walk2=$(timeout -k 10 "$WALK_TIMEOUT" "$UEXT4_TEST_WALK" "$mnt" 2>&1 | tail -1) || true
			e1=$(echo "$walkout" | sed -n 's/.* errors=\([0-9]*\).*/\1/p')
			e2=$(echo "$walk2" | sed -n 's/.* errors=\([0-9]*\).*/\1/p')
			if [ -z "$e2" ] || [ "$e2" -gt "${e1:-0}" ]; then
				why+=("second walk worse: ${walk2:-no summary}")
			fi
		fi
		if is_mounted "$mnt" && ! timeout 30 umount "$mnt" 2>/dev/null; then
			why+=("umount failed or hung")
			fuse_abort "$mnt"
			umount -l "$mnt" 2>/dev/null || true
		fi
		local killed=0
		if ! wait_exit "$pid" 30; then
			why+=("daemon still running 30s after unmount")
			kill -KILL "$pid" 2>/dev/null || true
			killed=1
		fi
		rc=0
		wait "$pid" || rc=$?
		if [ $rc -gt 128 ] && [ $killed = 0 ]; then
			why+=("daemon died by $(status_text $rc)")
		elif [ $rc != 0 ] && [ $killed = 0 ]; then
			# a read-only mount that served and was unmounted has
			# nothing to write: a failing exit is a bug
			why+=("daemon exited with $(status_text $rc) after unmount: $(grep -m1 uext4: "$log" | cut -c1-100)")
		fi
	fi
	if grep -qE "$SAN_RE" "$log"; then
		why+=("sanitizer report: $(grep -m1 -E "$SAN_RE" "$log" | cut -c1-100)")
	fi
	sum1=$(sha256sum < "$img")
	[ "$sum0" = "$sum1" ] || why+=("image modified by a read-only mount")

	if [ ${#why[@]} != 0 ]; then
		result="FAIL: ${why[*]}"
		nfail=$((nfail + 1))
		failures+=("$name")
		sed 's/^/    | /' "$log" | head -30
	fi
	printf '%-36s %s -> %s\n' "$name" "$summary" "$result"
	rm -f "$img"
}

shopt -s nullglob
for src in "$CORPUS"/*.gz "$CORPUS"/*.bz2; do
	[[ $(basename "$src") =~ $MATCH ]] || continue
	nimg=$((nimg + 1))
	check_image "$src"
done
[ $nimg -gt 0 ] || skip "no image in $CORPUS matches $MATCH"
log "$nimg images: $nmnt mounted, $nref refused, $nfail failed"
[ $nfail = 0 ] || fail "corpus failures: ${failures[*]}"
