#!/usr/bin/env bash
# initramfs.sh KDIR STAGE OUT "MODULES" "TOOLS" SCRIPT [ARGS...] builds the
# guest's initramfs (an uncompressed cpio: the fastest to unpack under
# emulation) in OUT from the folder STAGE: busybox, the workspace's
# commands built static, KDIR's MODULES (decompressed, with their
# dependencies, for modprobe), the host's TOOLS with their libraries,
# /init, /guest/lib.sh and SCRIPT as /guest/script.sh with its ARGS.
set -euo pipefail

kdir=$1 stage=$2 out=$3 modules=$4 tools=$5 script=$6
shift 6
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,usr/local/sbin,etc,proc,sys,dev,tmp,run,share,guest}

# A host program and the shared libraries it loads, at their own paths.
copy_with_libs() {
	local prog=$1 dst=$2 lib
	cp -L "$prog" "$stage$dst"
	{ ldd "$prog" 2>/dev/null || true; } | { grep -o '/[^ ]*' || true; } | while read -r lib; do
		mkdir -p "$stage$(dirname "$lib")"
		cp -Ln "$lib" "$stage$lib"
	done
}

copy_with_libs "$(command -v busybox)" /bin/busybox
for t in $tools; do
	p=$(command -v "$t") || { echo "initramfs.sh: host tool $t not found" >&2; exit 1; }
	copy_with_libs "$p" "/usr/local/sbin/$t"
done
[ -f /etc/mke2fs.conf ] && cp /etc/mke2fs.conf "$stage/etc/"

(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$stage/usr/local/bin/" \
	./tapdisk ./tap-ctl ./vhd-util ./xmsnap)

# Modules by name (dashes and underscores alike), with what they depend
# on (the "depends=" of their .modinfo), decompressed: busybox modprobe
# reads neither xz nor a depmod it did not make itself.
mdir=$(find "$kdir/lib/modules" -mindepth 1 -maxdepth 1 -type d | head -1)
kver=$(basename "$mdir")
read -ra want <<<"$modules"
seen=" "
while [ ${#want[@]} -gt 0 ]; do
	m=${want[0]}
	want=("${want[@]:1}")
	case $seen in *" $m "*) continue ;; esac
	seen="$seen$m "
	name=${m//[-_]/[-_]}
	f=$(find "$mdir" -regex ".*/$name\.ko\(\.xz\)?" | head -1)
	[ -n "$f" ] || { echo "initramfs.sh: module $m not in $kver" >&2; exit 1; }
	rel=${f#"$kdir"/}
	rel=${rel%.xz}
	mkdir -p "$stage/$(dirname "$rel")"
	case $f in
	*.xz) xz -dc "$f" >"$stage/$rel" ;;
	*) cp "$f" "$stage/$rel" ;;
	esac
	read -ra deps <<<"$(busybox strings "$stage/$rel" | sed -n 's/^depends=//p' | head -1 | tr ',' ' ')"
	want+=("${deps[@]}")
done

cp "$here/init" "$stage/init"
cp "$here/lib.sh" "$here/disk.sh" "$stage/guest/"
cp "$script" "$stage/guest/script.sh"
: >"$stage/guest/args"
[ $# -eq 0 ] || printf '%q ' "$@" >"$stage/guest/args"
chmod +x "$stage/init"
(cd "$stage" && find . | cpio --quiet -o -H newc) >"$out"
