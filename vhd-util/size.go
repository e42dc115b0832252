package main

import (
	"fmt"
	"strconv"
	"strings"
)

// Size units accepted after a number.
var sizeUnits = map[byte]int64{'B': 1, 'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}

// parseSize reads "10G", "512M", "1073742336B" or a bare number, which is
// in unit bytes (MB for blktap's -s, bytes for modify -s).
func parseSize(s string, unit int64) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if t != "" {
		if u, ok := sizeUnits[t[len(t)-1]]; ok {
			t, unit = t[:len(t)-1], u
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, usagef("size %q: want a number with an optional K, M, G, T or B suffix", s)
	}
	if n > (1<<62)/unit {
		return 0, usagef("size %q is out of range", s)
	}
	return n * unit, nil
}

// mb renders bytes in whole MB, as blktap prints sizes.
func mb(n int64) string { return fmt.Sprint(n >> 20) }
