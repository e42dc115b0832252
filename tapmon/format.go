package main

import (
	"fmt"
	"strconv"
)

// Figures are printed in a few characters: columns are narrow at 80
// columns, and --once output keeps them fixed-width.

// count is a rate or counter: 1234, 12.3k, 1.2M.
func count(v float64) string {
	switch {
	case v < 9999.5:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v < 999.95e3:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	default:
		return strconv.FormatFloat(v/1e6, 'f', 1, 64) + "M"
	}
}

// mibs is a throughput in MiB/s with one decimal.
func mibs(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// micros is a latency in at most five cells: 87µs, 1.2ms, 118ms, 3.4s;
// "-" for none.
func micros(us float64) string {
	switch {
	case us <= 0:
		return "-"
	case us < 999.5:
		return strconv.FormatFloat(us, 'f', 0, 64) + "µs"
	case us < 9.95e3:
		return strconv.FormatFloat(us/1e3, 'f', 1, 64) + "ms"
	case us < 999.5e3:
		return strconv.FormatFloat(us/1e3, 'f', 0, 64) + "ms"
	default:
		return strconv.FormatFloat(us/1e6, 'f', 1, 64) + "s"
	}
}

// bytesIEC is a size: 512 B, 64.0 MiB, 1.5 GiB.
func bytesIEC(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// percent is a share with one decimal.
func percent(part, whole float64) string {
	if whole <= 0 {
		return "-"
	}
	return strconv.FormatFloat(100*part/whole, 'f', 1, 64) + "%"
}
