# lib.sh: helpers for guest scripts (. /guest/lib.sh). A script exits 0
# for GUEST-RESULT: ok; fail records why it failed and exits.

# fail WHY...: the test failed; WHY goes on the result line.
fail() {
	echo "FAIL: $*"
	echo "$*" >/tmp/guest-fail
	exit 1
}

# step WHAT: a line on the console saying what comes next.
step() { echo "== $*"; }

# run CMD...: CMD must succeed; its output goes to the console.
run() {
	"$@" || fail "$* exited $?"
}

# refused WANT CMD...: CMD must fail, and its stderr contain WANT.
refused() {
	local want=$1 out
	shift
	if out=$("$@" 2>&1); then
		fail "$* succeeded; want a failure saying '$want'"
	fi
	echo "$out"
	case $out in
	*"$want"*) ;;
	*) fail "$* failed without saying '$want': $out" ;;
	esac
}
