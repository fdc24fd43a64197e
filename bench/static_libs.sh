#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Link flags for a program linked with BUILD/libpacket_capture.a: the shared
# libraries of the .pc file's Requires.private packages plus its Libs.private.
# Not `pkg-config --static`: that also asks for the private dependencies of
# those packages (libpcap's dbus and systemd), whose development files Debian
# does not install; the shared libraries bring their own.
# usage: bench/static_libs.sh BUILD_DIR
set -eu
pc=$1/libpacket_capture.pc
[ -f "$pc" ] || { echo "static_libs.sh: no $pc (build first)" >&2; exit 2; }
# shellcheck disable=SC2046
echo "$(pkg-config --libs $(sed -n 's/^Requires.private: *//p' "$pc")) $(sed -n 's/^Libs.private: *//p' "$pc")"
