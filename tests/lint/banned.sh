#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# lint.banned: functions the house style forbids never appear in C sources.
set -u
cd "$(dirname "$0")/../.."
pat='\b(sprintf|vsprintf|strcpy|strcat|strtok|gets|atoi|atol)[[:space:]]*\('
hits=$(grep -rnE "$pat" --include='*.c' --include='*.h' src apps include bindings tests bench 2>/dev/null |
	grep -vE '^\S+:[0-9]+:\s*(/\*|\*|//)')
if [ -n "$hits" ]; then
	echo "banned functions used (use snprintf, memcpy with checked sizes, strtoul...):"
	echo "$hits"
	exit 1
fi
n=$(find src apps include -name '*.[ch]' | wc -l)
echo "lint.banned: $n C files checked, no sprintf/strcpy/strcat/strtok/gets/atoi"
