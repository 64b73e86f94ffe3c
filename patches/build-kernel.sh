#!/bin/sh
# Build a 6.18 bzImage with one patch from this directory applied, for
# `oomnb collect --kernel-image OUT/bzImage`.
#
#   patches/build-kernel.sh --patch P --tree DIR --config CFG --out DIR [--jobs N]
#
#   --tree    an unpacked 6.18 stable tree (left untouched: the patched copy
#             is OUT/src, hard links to the tree except the patched files)
#   --config  the kernel config of the 6.18 QEMU image (virtme-ng's minimal
#             config plus memcg, blk-throttle, cgroup freezer, loop, AIO,
#             HZ_250, PM_DEBUG, SUSPEND, ftrace)
#   --out     OUT/src (patched sources), OUT/build (objects, O=), OUT/bzImage,
#             OUT/config, OUT/BUILD-INFO (tree version, patch, config checksums)
#   --jobs    make -j (default 2)
#   --localversion  appended to the kernel release (make LOCALVERSION=), e.g.
#             -group-oom-victims, so that the guest's uname -r and the data
#             set's kernel_release name the patched kernel (default: none)
#
# Full build: `make olddefconfig` then `make -jN bzImage` at nice 19; about
# 25 minutes on two CPUs. Incremental rebuild: edit OUT/src (e.g.
# mm/oom_kill.c, kernel/freezer.c, kernel/exit.c) and run the same command
# again (the patch is then already applied and is not applied twice); make
# recompiles the touched objects and relinks, a few minutes. The same holds
# for another patch with the same --out: the previous one is reversed first.
set -eu

patch= tree= config= out= jobs=2 localversion=
while [ $# -gt 0 ]; do
	case "$1" in
	--patch) patch=$2; shift 2 ;;
	--tree) tree=$2; shift 2 ;;
	--config) config=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--jobs) jobs=$2; shift 2 ;;
	--localversion) localversion=$2; shift 2 ;;
	-h|--help) sed -n '2,26s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "build-kernel.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
for v in patch tree config out; do
	eval "val=\$$v"
	[ -n "$val" ] || { echo "build-kernel.sh: --$v is required" >&2; exit 2; }
done
[ -f "$tree/Makefile" ] && [ -f "$tree/mm/oom_kill.c" ] ||
	{ echo "build-kernel.sh: $tree: not a kernel tree" >&2; exit 1; }
[ -f "$patch" ] || { echo "build-kernel.sh: $patch: no such patch" >&2; exit 1; }
[ -f "$config" ] || { echo "build-kernel.sh: $config: no such config" >&2; exit 1; }
patch=$(realpath "$patch") config=$(realpath "$config") tree=$(realpath "$tree")
mkdir -p "$out" && out=$(realpath "$out")

if [ ! -d "$out/src" ]; then
	cp -al "$tree" "$out/src.part" && mv "$out/src.part" "$out/src"
fi
cd "$out/src"
# OUT/src carries one patch at a time: another one recorded there is reversed
# first (its files go back to the tree's), so OUT/build is rebuilt incrementally
if [ -f .build-kernel-patch ] && ! cmp -s .build-kernel-patch "$patch"; then
	git apply --reverse .build-kernel-patch
	rm .build-kernel-patch
	echo "build-kernel.sh: reversed the patch applied before in $out/src"
fi
if git apply --reverse --check "$patch" 2>/dev/null; then
	echo "build-kernel.sh: $(basename "$patch") already applied in $out/src"
else
	git apply --check "$patch" ||
		{ echo "build-kernel.sh: $patch does not apply to $tree" >&2; exit 1; }
	# break the hard links of the files the patch touches, then apply
	for f in $(git apply --numstat "$patch" | cut -f3); do
		cp --remove-destination "$tree/$f" "$f"
	done
	git apply "$patch"
fi
cp "$patch" .build-kernel-patch

mkdir -p "$out/build"
cmp -s "$config" "$out/build/.config" || cp "$config" "$out/build/.config"
make -s O="$out/build" LOCALVERSION="$localversion" olddefconfig
nice -n 19 make -s O="$out/build" LOCALVERSION="$localversion" -j"$jobs" bzImage
cp "$out/build/arch/x86/boot/bzImage" "$out/bzImage"
cp "$out/build/.config" "$out/config"  # where oomnb collect --kernel-image looks for it
{
	echo "kernel: $(make -s O="$out/build" LOCALVERSION="$localversion" kernelrelease)"
	echo "tree: $tree"
	echo "patch: $(basename "$patch") sha256 $(sha256sum "$patch" | cut -d' ' -f1)"
	echo "config: sha256 $(sha256sum "$config" | cut -d' ' -f1)"
	echo "bzImage: sha256 $(sha256sum "$out/bzImage" | cut -d' ' -f1)"
} > "$out/BUILD-INFO"
cat "$out/BUILD-INFO"
