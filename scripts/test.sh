#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run every test: the layering check, the unit tests and the integration
# tests in a normal build, then again in an ASan+UBSan build.
# Integration tests need root, /dev/fuse and loop devices; without them
# they are skipped (reported as SKIP by meson).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

scripts/install-deps.sh

echo "== build (debugoptimized)"
scripts/build.sh build >/dev/null
echo "== build (ASan+UBSan)"
scripts/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false \
	-Dbuildtype=debug >/dev/null

# The unprivileged-mount test opens /dev/fuse to others for its duration when
# the machine keeps it root-only (Debian's udev rule makes it 0666; minimal
# containers often do not), and restores the mode afterwards.
export UEXT4_TEST_FUSE_CHMOD=${UEXT4_TEST_FUSE_CHMOD:-1}

status=0
echo "== tests (normal build)"
meson test -C build --print-errorlogs --num-processes 2 || status=1

echo "== tests (ASan+UBSan build)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export UEXT4_SANITIZER_BUILD=1
meson test -C build-asan --print-errorlogs --num-processes 2 \
	--timeout-multiplier 3 || status=1

exit $status
