# The harness's own test: the guest has its modules, tools and commands,
# and what it writes in /share comes back to the host (smoke.sh).
. /guest/lib.sh
step "modules"
run modprobe nbd
[ -b /dev/nbd0 ] || fail "modprobe nbd made no /dev/nbd0"
run modprobe ublk_drv
[ -c /dev/ublk-control ] || fail "modprobe ublk_drv made no /dev/ublk-control"
step "tools"
for cmd in tapdisk tap-ctl vhd-util xmsnap mkfs.ext4 e2fsck sha256sum; do
	command -v $cmd >/dev/null || fail "$cmd missing"
done
run tapdisk --help >/dev/null
step "share"
[ "$(cat /share/in.txt)" = "from the host" ] || fail "/share/in.txt: $(cat /share/in.txt)"
run vhd-util create -n /share/out.vhd -s 16
