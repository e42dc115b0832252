// Command tap-ctl controls tapdisk processes, like blktap's tap-ctl.
//
// Not implemented yet: it prints its usage and exits 2.
package main

import (
	"fmt"
	"os"
)

const usage = `usage: tap-ctl COMMAND [OPTIONS]

Commands: list, allocate, free, spawn, attach, detach, open, close,
pause, unpause, stats. Talks to tapdisk over its control socket.

tap-ctl is not implemented yet.
`

func main() {
	fmt.Fprint(os.Stderr, usage)
	os.Exit(2)
}
