#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# install.pkgconfig: `cmake --install` into a temporary prefix, then build and
# run a program against the installed header and library through pkg-config,
# and check that the shared library exports the public API only.
set -eu
build=$1
# a sanitized library needs its runtime in the program too
san=${2:+-fsanitize=$2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > /dev/null
pc=$(find "$tmp/prefix" -name libpacket_capture.pc)
[ -n "$pc" ] || { echo "no libpacket_capture.pc installed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
cat > "$tmp/t.c" <<'C'
#include <packet_capture.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	struct capture_backend_info b[16];
	int n = capture_list_backends(b, 16);

	printf("%s %d\n", capture_version(), n);
	return strcmp(capture_strerror(-CAPTURE_E_FILTER), "invalid filter expression") != 0 || n < 4;
}
C
libdir=$(pkg-config --variable=libdir libpacket_capture)
cc $san "$tmp/t.c" $(pkg-config --cflags --libs libpacket_capture) -Wl,-rpath,"$libdir" -o "$tmp/t"
"$tmp/t"
# the export list: everything global is capture_*
bad=$(nm -D --defined-only "$libdir/libpacket_capture.so" | awk '$2 ~ /[TDBR]/ {print $3}' | grep -v '^capture_' || true)
if [ -n "$bad" ]; then
	echo "symbols exported outside the public API:"; echo "$bad"; exit 1
fi
echo "install.pkgconfig: installed, built against pkg-config, exports capture_* only"
