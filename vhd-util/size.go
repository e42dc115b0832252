package main

import (
	"fmt"
	"syscall"

	"gotap.dev/libvhd"
)

// parseSize reads "10G", "512M", "1073742336B" or a bare number of unit
// bytes (MB for blktap's -s, bytes for modify -s); a bad one is a usage
// error.
func parseSize(s string, unit int64) (int64, error) {
	n, err := libvhd.ParseSize(s, unit)
	if err != nil {
		return 0, codedError{syscall.EINVAL, err}
	}
	return n, nil
}

// mb renders bytes in whole MB, as blktap prints sizes.
func mb(n int64) string { return fmt.Sprint(n >> 20) }
