#!/bin/sh
# Regenerates the sample's pkgs-style configs with the kernel's own Kconfig tool,
# so they are exactly what `make olddefconfig` writes for the sample tree:
#
#   data/sample/pkgs/kernel/build/config-{amd64,arm64}
#     = conf --olddefconfig of data/sample/seed/config-{amd64,arm64}
#       against data/sample/linux, for the toolchain named below
#
# and then the linux_sha256/linux_sha512 in data/sample/pkgs/Pkgfile, which are
# the hashes of the deterministic tarball talosnb.inputs.kernel_tree.write_tarball() makes
# of data/sample/linux (tests rebuild it and check the hashes).
#
# Usage: data/sample/regenerate.sh [path/to/linux-6.12.*-kbuild.tar.xz | kernel dir]
#                                  [path/to/linux-7.x-kbuild.tar.xz | kernel dir]
#
# data/sample/linux-next (the next release, for `talosnb upgrade`) is written by hand; nothing is
# generated from it. With the second argument, that tree's conf checks that it parses and says how
# many lines of each config it changes (tests/upgrade/test_upgrade.py checks them line by line).
# Needs make, gcc, flex, bison (to build scripts/kconfig/conf in a temp dir; the
# binary is thrown away, never committed).
#
# The toolchain: the sample's scripts/cc-version.sh and ld-version.sh read the
# version lines from CC_VERSION_TEXT / LD_VERSION_TEXT, so the configs record a
# gcc 14.2.0 / binutils 2.44 build (like Talos' own) on any host. The two
# feature probes (CC_HAS_ASM_GOTO_OUTPUT, CC_HAS_ZERO_CALL_USED_REGS) really run
# $(CC); gcc >= 11 passes both, as gcc 14.2.0 does.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
src=${1:-$repo/../shared/kernel/linux-6.12.117-kbuild.tar.xz}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

if [ -d "$src" ]; then
	cp -a "$src" "$work/kernel"
	tree=$work/kernel
else
	tar -xf "$src" -C "$work"
	tree=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -n 1)
fi
# olddefconfig is the simplest target that builds conf (the bare
# scripts/kconfig/conf target wants an existing .config).
make -s -C "$tree" ARCH=x86 olddefconfig >/dev/null
conf=$tree/scripts/kconfig/conf

for arch in amd64 arm64; do
	case $arch in
	amd64) karch=x86 ;;
	arm64) karch=arm64 ;;
	esac
	out=$here/pkgs/kernel/build/config-$arch
	mkdir -p "$(dirname "$out")" "$work/run-$arch"
	cp "$here/seed/config-$arch" "$work/run-$arch/.config"
	for pass in 1 2; do
		# Pass 2 must change nothing: the committed file is a fixed point of
		# conf --olddefconfig for this toolchain.
		(cd "$work/run-$arch" && env -i PATH="$PATH" HOME="$work" \
			srctree="$here/linux" ARCH=$karch SRCARCH=$karch KERNELVERSION=6.12.0 \
			CC=gcc LD=ld CC_VERSION_TEXT="gcc (GCC) 14.2.0" \
			LD_VERSION_TEXT="GNU ld (GNU Binutils) 2.44" \
			KCONFIG_CONFIG=.config "$conf" -s --olddefconfig "$here/linux/Kconfig")
		if [ $pass = 2 ] && ! cmp -s "$work/run-$arch/.config" "$work/pass1-$arch"; then
			echo "conf --olddefconfig is not a fixed point for $arch" >&2
			exit 1
		fi
		cp "$work/run-$arch/.config" "$work/pass1-$arch"
	done
	cp "$work/run-$arch/.config" "$out"
	echo "wrote $out"
done

# Hashes of the sample tarball, in the Pkgfile.
py=$repo/.venv/bin/python
[ -x "$py" ] || py=python3
"$py" - "$here" <<'PY'
import hashlib, re, sys, tempfile
from pathlib import Path
sys.path.insert(0, str(Path(sys.argv[1]).parents[1]))
from talosnb.inputs.kernel_tree import write_tarball
here = Path(sys.argv[1])
pkgfile = here / "pkgs" / "Pkgfile"
text = pkgfile.read_text()
version = re.search(r"^\s*linux_version:\s*(\S+)", text, re.M).group(1)
with tempfile.TemporaryDirectory() as tmp:
    tarball = write_tarball(here / "linux", Path(tmp) / f"linux-{version}.tar.xz", top=f"linux-{version}")
    data = tarball.read_bytes()
for name, algo in (("linux_sha256", hashlib.sha256), ("linux_sha512", hashlib.sha512)):
    text = re.sub(rf"^(\s*{name}:\s*)\S+", lambda m: m.group(1) + algo(data).hexdigest(), text, flags=re.M)
pkgfile.write_text(text)
print(f"wrote {pkgfile}")
PY

# The next release: parsed by a Linux 7.x conf (it has transitional symbols), the configs run
# through it once, nothing written.
next_src=${2:-}
if [ -n "$next_src" ]; then
	if [ -d "$next_src" ]; then
		cp -a "$next_src" "$work/next"
		next_tree=$work/next
	else
		mkdir "$work/next"
		tar -xf "$next_src" -C "$work/next"
		next_tree=$(find "$work/next" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	fi
	make -s -C "$next_tree" ARCH=x86 olddefconfig >/dev/null
	for arch in amd64 arm64; do
		case $arch in
		amd64) karch=x86 ;;
		arm64) karch=arm64 ;;
		esac
		mkdir -p "$work/next-$arch"
		cp "$here/pkgs/kernel/build/config-$arch" "$work/next-$arch/.config"
		(cd "$work/next-$arch" && env -i PATH="$PATH" HOME="$work" \
			srctree="$here/linux-next" ARCH=$karch SRCARCH=$karch KERNELVERSION=7.2.0 \
			CC=gcc LD=ld CC_VERSION_TEXT="gcc (GCC) 14.2.0" \
			LD_VERSION_TEXT="GNU ld (GNU Binutils) 2.44" \
			KCONFIG_CONFIG=.config "$next_tree/scripts/kconfig/conf" -s --olddefconfig "$here/linux-next/Kconfig")
		changed=$(diff "$here/pkgs/kernel/build/config-$arch" "$work/next-$arch/.config" | grep -c '^[<>]' || true)
		echo "linux-next: conf changes $changed line(s) of config-$arch"
	done
fi
