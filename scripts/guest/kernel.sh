#!/usr/bin/env bash
# kernel.sh prints the folder holding the guest's kernel (vmlinuz) and its
# modules (lib/modules/VERSION), downloading Debian's current 6.12 cloud
# kernel package into the cache the first time: $GOTAP_CACHE, else
# /var/cache/gotap for root, else $XDG_CACHE_HOME/gotap (~/.cache/gotap).
# Without apt's answer (offline), the newest kernel cached serves.
set -euo pipefail

if [ -n "${GOTAP_CACHE:-}" ]; then
	cache=$GOTAP_CACHE
elif [ "$(id -u)" -eq 0 ]; then
	cache=/var/cache/gotap
else
	cache=${XDG_CACHE_HOME:-$HOME/.cache}/gotap
fi
cache=$cache/guest-kernel
mkdir -p "$cache"

pkg=$(apt-cache search --names-only 'linux-image-6\.12\..*cloud-amd64-unsigned' 2>/dev/null |
	awk '{print $1}' | sort -V | tail -1 || true)
if [ -z "$pkg" ]; then
	dir=$(find "$cache" -mindepth 1 -maxdepth 1 -type d -name 'linux-image-*' | sort -V | tail -1)
	[ -n "$dir" ] || { echo "kernel.sh: apt names no linux-image-6.12.*cloud-amd64-unsigned and none is cached in $cache" >&2; exit 1; }
	echo "$dir"
	exit 0
fi
dir=$cache/$pkg
if [ ! -f "$dir/vmlinuz" ]; then
	tmp=$(mktemp -d "$cache/.download.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "guest: downloading $pkg into $cache" >&2
	(cd "$tmp" && apt-get download -q "$pkg") >&2
	dpkg-deb -x "$tmp"/*.deb "$tmp/root"
	mkdir -p "$tmp/out"
	mv "$tmp"/root/boot/vmlinuz-* "$tmp/out/vmlinuz"
	mv "$tmp/root/lib" "$tmp/out/lib"
	# Published whole, so that a run killed halfway leaves nothing a
	# later run takes for a kernel.
	rm -rf "$dir"
	mv "$tmp/out" "$dir"
fi
echo "$dir"
