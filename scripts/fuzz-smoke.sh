#!/usr/bin/env bash
# fuzz-smoke.sh PATTERN... runs every Fuzz* target of the packages matched
# for FUZZTIME each: by default a fixed number of executions, so that the
# smoke costs the same on a fast or a loaded machine and a crasher a
# change just introduced shows up without a fuzzing campaign. Targets are
# discovered, so new ones are picked up without editing anything. Any
# failure (a crasher, which go test writes to the package's
# testdata/fuzz/TARGET/) fails the script.
set -euo pipefail
fuzztime=${FUZZTIME:-3000x}
# Go's fuzzer minimizes every input that finds new coverage, for up to a
# minute each by default: bounded here, or a timed run stalls on it (with
# FUZZTIME=Nx, minimizing counts against N anyway).
minimize=${FUZZMINIMIZETIME:-200x}

# Only packages whose tests declare a fuzz target: listing the tests of
# every package would build every test binary.
pkgs=()
while read -r dir path; do
	if grep -qs '^func Fuzz' "$dir"/*_test.go; then
		pkgs+=("$path")
	fi
done < <(go list -f '{{.Dir}} {{.ImportPath}}' "$@")
[ ${#pkgs[@]} -gt 0 ] || exit 0

# `go test -list` prints a package's test names, then "ok  <import path>".
# -fuzz accepts one package and one target per run.
# Listed first, so a package that does not compile stops the script.
list=$(go test -list '^Fuzz' "${pkgs[@]}")
names=()
while read -r first second _; do
	case $first in
	Fuzz*) names+=("$first") ;;
	ok)
		for name in ${names[@]+"${names[@]}"}; do
			echo "fuzz $second $name for $fuzztime"
			go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$second"
		done
		names=()
		;;
	esac
done <<<"$list"
