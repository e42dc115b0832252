#!/usr/bin/env bash
# demo.sh: the main job on a built-in example, in a scratch folder with a
# run directory of its own. A VHD is made and served with tap-ctl; QEMU
# writes to it over NBD; a second writer is refused; xmsnap snapshots it live; tap-ctl, tapmon and
# nbdinfo show it at work; then it is destroyed and its chain checked.
# Run by `make demo` after `make build`.
set -euo pipefail
bin=$(cd "$(dirname "$0")/../bin" && pwd)
PATH=$bin:$PATH
work=$(mktemp -d)
export BLKTAP_RUN_DIR=$work/run
cleanup() {
	tap-ctl destroy -m 0 >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

# run echoes a command, quoting the arguments that need it, then runs it.
run() {
	local line='$' a
	for a in "$@"; do
		case $a in
		*[[:space:]\'\"\$*?]*) line+=" '$a'" ;;
		*) line+=" $a" ;;
		esac
	done
	printf '\n%s\n' "$line"
	"$@"
}

echo "# in $work, run directory $BLKTAP_RUN_DIR"
run vhd-util create -n vm.vhd -s 256
printf '\n$ uri=$(tap-ctl create -a vhd:%s/vm.vhd)\n' "$work"
uri=$(tap-ctl create -a "vhd:$work/vm.vhd")
echo "$uri"
run qemu-io -f raw -c 'write -P 0xab 0 4M' "$uri"
echo; echo '# one writer per image: a second tapdisk (or qemu-nbd) is refused'
run tap-ctl create -a "vhd:$work/vm.vhd" || echo "(exit $?: EBUSY)"
run nbdinfo --map "$uri"
run tap-ctl list
run xmsnap 0
run qemu-io -f raw -c 'write -P 0xcd 1M 1M' -c 'read -P 0xab 0 1M' -c 'read -P 0xcd 1M 1M' "$uri"
run vhd-util scan -p ./*.vhd
printf '\n$ tap-ctl stats -m 0 | jq …\n'
tap-ctl stats -m 0 | jq '{image, state_name, writes: .stats.writes, write_bytes: .stats.write_bytes, p99_write_us: .stats.write_latency.p99_us}'
run tapmon --once --interval 200ms
run tap-ctl destroy -m 0
run vhd-util check -n vm.snap1.vhd -p
run vhd-util query -n vm.snap1.vhd -d -p
