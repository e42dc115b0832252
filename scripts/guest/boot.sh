#!/usr/bin/env bash
# boot.sh runs a script in a Linux guest that has the kernel block
# frontends this machine's own kernel may lack (nbd.ko, ublk_drv), and
# reports its result. Usage:
#
#   scripts/guest/boot.sh [-s DIR] [-m MODULE]... [-x TOOL]... SCRIPT [ARGS...]
#
# The guest is Debian's 6.12 cloud kernel (the package apt names current,
# downloaded once into the cache below) with an initramfs of busybox, the
# workspace's commands built static (tapdisk, tap-ctl, vhd-util, xmsnap),
# the kernel modules (virtio_blk nbd ublk_drv loop dm-mod, plus each -m;
# load them with modprobe), and host tools with their libraries (mkfs.ext4
# e2fsck, plus each -x). QEMU runs it under TCG; GOTAP_GUEST_KVM=1 uses
# KVM instead, with -cpu $GOTAP_GUEST_CPU (default host): opt-in, as
# under nested virtualisation KVM guests fail at boot (an MSR QEMU cannot
# set with -cpu host, an instruction KVM cannot emulate without it).
#
# -s DIR is the guest's /share: DIR's files go in as an ext4 disk
# (/dev/vda, mounted on /share, the guest's working directory) and what
# the guest leaves there replaces DIR's content afterwards, so the host
# judges the guest's images itself. SCRIPT runs as `sh SCRIPT ARGS...`
# and may source /guest/lib.sh (fail, ok, run: see lib.sh) and
# /guest/disk.sh (a kernel frontend's scenario on its device). The guest
# prints "GUEST-RESULT: ok" or "GUEST-RESULT: fail WHY"; boot.sh prints
# that line and exits 0 for ok, 1 otherwise: a guest that does not
# report within GOTAP_GUEST_TIMEOUT seconds (default 900) fails too.
# GOTAP_GUEST_LOG=FILE keeps the console; GOTAP_GUEST_VERBOSE=1 shows it.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
share="" modules=(virtio_blk nbd ublk_drv loop dm-mod) tools=(mkfs.ext4 e2fsck)
while getopts s:m:x: opt; do
	case $opt in
	s) share=$(cd "$OPTARG" && pwd) ;;
	m) modules+=("$OPTARG") ;;
	x) tools+=("$OPTARG") ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { echo "usage: $0 [-s DIR] [-m MODULE]... [-x TOOL]... SCRIPT [ARGS...]" >&2; exit 2; }
script=$1
shift

"$root/scripts/install-test-deps.sh"
for t in qemu-system-x86_64 busybox cpio xz mkfs.ext4 debugfs apt-cache dpkg-deb; do
	command -v $t >/dev/null && continue
	# As every test does: skip without the tool, unless in CI.
	[ "${CI:-}" = true ] && { echo "GUEST-RESULT: fail $t missing"; exit 1; }
	echo "GUEST-RESULT: skip $t missing"
	exit 0
done
work=$(mktemp -d "${TMPDIR:-/tmp}/gotap-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT
kdir=$("$here/kernel.sh")
"$here/initramfs.sh" "$kdir" "$work/initrd" "$work/initrd.cpio" "${modules[*]}" "${tools[*]}" "$script" "$@"

disk=()
if [ -n "$share" ]; then
	# Room for the images the guest makes: sparse, so only what is
	# written takes space.
	truncate -s "${GOTAP_GUEST_DISK:-4G}" "$work/share.img"
	mkfs.ext4 -q -F -E nodiscard -d "$share" "$work/share.img"
	disk=(-drive "file=$work/share.img,format=raw,if=virtio,cache=unsafe")
fi

accel=(-accel tcg)
if [ "${GOTAP_GUEST_KVM:-}" = 1 ]; then
	accel=(-accel kvm -cpu "${GOTAP_GUEST_CPU:-host}")
fi
log=${GOTAP_GUEST_LOG:-$work/console.log}
echo "guest: booting $(basename "$kdir") for $(basename "$script")" >&2
status=0
timeout --kill-after=10 "${GOTAP_GUEST_TIMEOUT:-900}" \
	qemu-system-x86_64 "${accel[@]}" -m "${GOTAP_GUEST_MEM:-1024}" -smp 2 \
	-nographic -no-reboot -nodefaults -serial stdio \
	-kernel "$kdir/vmlinuz" -initrd "$work/initrd.cpio" \
	-append "console=ttyS0 quiet panic=-1 rdinit=/init" \
	"${disk[@]}" </dev/null >"$log" 2>&1 || status=$?
[ "${GOTAP_GUEST_VERBOSE:-}" = 1 ] && cat "$log" >&2

# A guest killed by the timeout left its file system dirty: not read.
if [ -n "$share" ] && [ $status -ne 124 ] && [ $status -ne 137 ]; then
	find "$share" -mindepth 1 -delete
	debugfs -R "rdump / $share" "$work/share.img" 2>/dev/null
	rm -rf "$share/lost+found"
fi
result=$(grep -a '^GUEST-RESULT: ' "$log" | tail -1 | tr -d '\r' || true)
if [ $status -eq 124 ] || [ $status -eq 137 ]; then
	result="GUEST-RESULT: fail timeout after ${GOTAP_GUEST_TIMEOUT:-900} s"
fi
[ -n "$result" ] || result="GUEST-RESULT: fail no result (qemu exit $status)"
echo "$result"
if [ "$result" != "GUEST-RESULT: ok" ]; then
	[ "${GOTAP_GUEST_VERBOSE:-}" = 1 ] || tail -n 40 "$log" >&2
	exit 1
fi
