#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# lint.format: every C file is formatted as .clang-format says (kernel style, 100 columns).
# Fix with: clang-format -i $(git ls-files '*.c' '*.h')
set -u
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format not installed: skipped"; exit 77; }
files=$(find include src apps tests bench bindings -name '*.[ch]' 2>/dev/null | sort)
if ! clang-format --dry-run --Werror $files 2>/tmp/format-check.$$; then
	grep -E '^[^ ].*: (warning|error):' /tmp/format-check.$$ | cut -d: -f1 | sort | uniq -c
	rm -f /tmp/format-check.$$
	echo "lint.format: files above need clang-format -i"
	exit 1
fi
rm -f /tmp/format-check.$$
echo "lint.format: $(echo "$files" | wc -l) files formatted as .clang-format says"
