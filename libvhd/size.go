package libvhd

import (
	"fmt"
	"strconv"
	"strings"
)

// sizeUnits are the suffixes ParseSize accepts (powers of 1024).
var sizeUnits = map[byte]int64{'B': 1, 'K': 1 << 10, 'M': 1 << 20, 'G': 1 << 30, 'T': 1 << 40}

// ParseSize reads "10G", "512M", "1073742336B" or a bare number, which
// counts units of unit bytes (blktap's tools take MB).
func ParseSize(s string, unit int64) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if t != "" {
		if u, ok := sizeUnits[t[len(t)-1]]; ok {
			t, unit = t[:len(t)-1], u
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional K, M, G, T or B suffix", s)
	}
	if n > (1<<62)/unit {
		return 0, fmt.Errorf("size %q is out of range", s)
	}
	return n * unit, nil
}
