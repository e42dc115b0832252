#!/usr/bin/env bash
# fuzz-smoke.sh PATTERN... runs every Fuzz* target of the packages matched
# for FUZZTIME (default 5s) each. Targets are discovered with `go test
# -list`, so new ones are picked up without editing anything.
set -euo pipefail
fuzztime=${FUZZTIME:-5s}

# `go test -list` prints a package's test names, then "ok  <import path>".
# -fuzz accepts one package and one target per run.
# Listed first, so a package that does not compile stops the script.
list=$(go test -list '^Fuzz' "$@")
names=()
while read -r first second _; do
	case $first in
	Fuzz*) names+=("$first") ;;
	ok)
		for name in ${names[@]+"${names[@]}"}; do
			echo "fuzz $second $name for $fuzztime"
			go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$second"
		done
		names=()
		;;
	esac
done <<<"$list"
