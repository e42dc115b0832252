// Command tapdisk serves one VHD (or raw) image chain to a block frontend.
//
// Not implemented yet: it prints its usage and exits 2.
package main

import (
	"fmt"
	"os"
)

const usage = `usage: tapdisk [-u UUID] CONTROL-SOCKET

Serves a VHD chain (through libtap's driver stack) to a blktap ring or
over NBD, controlled by tap-ctl through CONTROL-SOCKET.

tapdisk is not implemented yet.
`

func main() {
	fmt.Fprint(os.Stderr, usage)
	os.Exit(2)
}
