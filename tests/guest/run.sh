#!/usr/bin/env bash
# run.sh [TEST...]: runs the guest tests (tests/guest/NAME.sh, each a host
# driver that boots the guest through scripts/guest/boot.sh), every one
# by default; `make guest` runs this. Exits 1 if any failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
	for t in "$here"/*.sh; do
		case $t in *.guest.sh | */run.sh) continue ;; esac
		tests+=("$(basename "$t" .sh)")
	done
fi
failed=()
for t in "${tests[@]}"; do
	start=$SECONDS
	if "$here/$t.sh"; then
		echo "--- PASS: guest/$t ($((SECONDS - start)) s)"
	else
		echo "--- FAIL: guest/$t ($((SECONDS - start)) s)"
		failed+=("$t")
	fi
done
[ ${#failed[@]} -eq 0 ] || { echo "FAIL: guest tests ${failed[*]}"; exit 1; }
