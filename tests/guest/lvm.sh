#!/usr/bin/env bash
# lvm.sh: the conformance suite's LVM part (LVHD: VHDs in the logical
# volumes of a volume group on a loop device) in the guest, where
# device-mapper is: tests/conformance/sm.py --guest boots it through
# scripts/guest/boot.sh with lvm.guest.sh and parses what it recorded.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
exec python3 "$root/tests/conformance/sm.py" --guest
