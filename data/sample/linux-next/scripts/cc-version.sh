#!/bin/sh
# SPDX-License-Identifier: MPL-2.0
# Usage: cc-version.sh <compiler>
# Prints "<name> <number>" (GCC 140200, Clang 220108) like the kernel's script.
# The version line is $CC_VERSION_TEXT when set (the kernel's Makefile exports
# it too), else the first line of `<compiler> --version`.
text=${CC_VERSION_TEXT:-$("$1" --version 2>/dev/null | head -n 1)}
case "$text" in
*"clang version "*) name=Clang; rest=${text#*clang version } ;;
gcc*|*GCC*|*gcc\ *) name=GCC; rest=${text##*) } ;;
*) exit 1 ;;
esac
rest=${rest%% *}
old_ifs=$IFS; IFS=.
set -- $rest
IFS=$old_ifs
[ -n "$1" ] || exit 1
echo "$name $(expr "${1:-0}" \* 10000 + "${2:-0}" \* 100 + "${3:-0}")"
