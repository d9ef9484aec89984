#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Layering rules of DESIGN.md and STYLE.md, checked on the source tree:
#  - iomap/ and cache/ include no ext2fs header (they know nothing of ext4);
#  - only daemon/ includes <fuse_lowlevel.h> / <fuse.h>;
#  - cache/ does not include iomap/ or anything above it;
#  - no component defines symbols in the ext2fs_/EXT2_/jbd2_ namespaces.
set -uo pipefail
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
bad=0
report() { echo "layering: $*"; bad=1; }

while IFS= read -r hit; do report "ext2fs header below extent/: $hit"; done < \
	<(grep -rnE '#include *[<"](ext2fs/|et/com_err)' "$src/iomap" "$src/cache" 2>/dev/null)
while IFS= read -r hit; do report "FUSE header outside daemon/: $hit"; done < \
	<(grep -rnE '#include *[<"]fuse(_lowlevel)?\.h' "$src/iomap" "$src/cache" "$src/extent" "$src/journal" 2>/dev/null)
while IFS= read -r hit; do report "cache/ includes an upper layer: $hit"; done < \
	<(grep -rnE '#include *"(iomap|extent|journal|internal_daemon)\.h"' "$src/cache" 2>/dev/null)
while IFS= read -r hit; do report "iomap/ includes an ext4 layer: $hit"; done < \
	<(grep -rnE '#include *"(extent|journal)\.h"' "$src/iomap" 2>/dev/null)
while IFS= read -r hit; do report "foreign namespace defined: $hit"; done < \
	<(grep -rnE '^[a-z_ ]*[ *](ext2fs_|jbd2_)[a-z0-9_]+\(' "$src"/{cache,iomap,extent,journal,daemon}/*.c 2>/dev/null | grep -v '^\s*//' )

[ "$bad" = 0 ] && echo "layering: ok"
exit $bad
