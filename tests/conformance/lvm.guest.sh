# lvm.guest.sh: the guest part of the conformance suite (sm.py --guest).
# Makes an LVM volume group on a loop device, with the logical volumes
# sm.py names in /share/volumes (NAME MiB per line) and /share/data.vhd
# copied into VHD-data (a VHD in a volume larger than it, as an LVHD),
# then runs /share/steps.sh, the command lines sm.py wrote, which records
# each one's output under /share/out for sm.py to parse on the host.
. /guest/lib.sh
step "lvm"
export LVM_SYSTEM_DIR=/tmp/lvm
mkdir -p $LVM_SYSTEM_DIR /tmp/lvmbin
cat >$LVM_SYSTEM_DIR/lvm.conf <<'CONF'
devices { obtain_device_list_from_udev = 0 }
activation { udev_sync = 0 udev_rules = 0 verify_udev_operations = 1 monitoring = 0 }
CONF
# lvm runs as the tool its name says: vhd-util scan -l runs lvs, lvchange.
for t in lvs lvchange lvcreate pvcreate vgcreate; do
	ln -s "$(command -v lvm)" /tmp/lvmbin/$t
done
export PATH=/tmp/lvmbin:$PATH
# Block devices are parents only in a folder the operator allows
# (libvhd/parentpolicy.go): an LVHD host allows its volume groups'.
export GOTAP_PARENT_DIRS=/dev/vgsm
run modprobe loop
run modprobe dm-mod
dd if=/dev/zero of=/tmp/pv.img bs=1M count=0 seek=256 2>/dev/null
pv=$(losetup -f)
run losetup "$pv" /tmp/pv.img
run pvcreate -q "$pv"
run vgcreate -q vgsm "$pv"
while read -r lv mib; do
	run lvcreate -q -y -Zn -n "$lv" -L "${mib}m" vgsm
	# Stale bytes where the image does not reach, as a reused volume has.
	tr '\0' '\245' </dev/zero | head -c $((mib << 20)) >/dev/vgsm/"$lv"
done </share/volumes
run dd if=/share/data.vhd of=/dev/vgsm/VHD-data conv=notrunc 2>/dev/null
step "steps"
mkdir -p /share/out
sh /share/steps.sh || fail "steps.sh exited $?"
