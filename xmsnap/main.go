// Command xmsnap takes live snapshots of a running domain's VHD disks.
//
// Not implemented yet: it prints its usage and exits 2.
package main

import (
	"fmt"
	"os"
)

const usage = `usage: xmsnap DOMAIN [SNAPSHOT-NAME]

Pauses the domain's tapdisks, makes each VHD a read-only parent of a
new differencing child, re-points the tapdisks at the children, and
unpauses them.

xmsnap is not implemented yet.
`

func main() {
	fmt.Fprint(os.Stderr, usage)
	os.Exit(2)
}
