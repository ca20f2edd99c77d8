#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# Usage: ld-version.sh <linker>
# Prints "<name> <number>" (BFD 24400, LLD 190108) like the kernel's script.
# The version line is $LD_VERSION_TEXT when set, else the first line of
# `<linker> --version`.
text=${LD_VERSION_TEXT:-$("$1" --version 2>/dev/null | head -n 1)}
case "$text" in
"GNU ld"*) name=BFD ;;
*LLD*) name=LLD; text=${text%%(*} ;;
*) exit 1 ;;
esac
text=${text% }
ver=${text##* }
ver=${ver%%-*}
old_ifs=$IFS; IFS=.
set -- $ver
IFS=$old_ifs
[ -n "$1" ] || exit 1
echo "$name $(expr "${1:-0}" \* 10000 + "${2:-0}" \* 100 + "${3:-0}")"
