// Command tapmon watches running tapdisks in a terminal.
//
// Not implemented yet: it prints its usage and exits 2.
package main

import (
	"fmt"
	"os"
)

const usage = `usage: tapmon [-i INTERVAL]

Shows each tapdisk's images, request rates, latency and errors,
refreshed every INTERVAL (default 1s).

tapmon is not implemented yet.
`

func main() {
	fmt.Fprint(os.Stderr, usage)
	os.Exit(2)
}
