package main

import (
	"os"
	"path/filepath"
	"strings"
)

// canonPath is the canonical absolute path blktap prints for a parent
// (query -p, check -p): symbolic links resolved, except for a logical
// volume, which keeps its device-mapper name (/dev/VG/LV, itself a link to
// /dev/dm-N, prints as /dev/mapper/VG-LV) so that a storage manager finds
// the volume's name in it.
func canonPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if m, ok := mapperPath(abs); ok {
		if _, err := os.Stat(m); err == nil {
			return m, nil
		}
	}
	return filepath.EvalSymlinks(abs)
}

// mapperPath is device-mapper's name of /dev/VG/LV: /dev/mapper/VG-LV,
// each '-' of VG and LV doubled; a /dev/mapper name is its own.
func mapperPath(abs string) (string, bool) {
	rest, ok := strings.CutPrefix(abs, "/dev/")
	if !ok {
		return "", false
	}
	vg, lv, ok := strings.Cut(rest, "/")
	switch {
	case !ok || strings.Contains(lv, "/"):
		return "", false
	case vg == "mapper":
		return abs, true
	}
	esc := func(s string) string { return strings.ReplaceAll(s, "-", "--") }
	return "/dev/mapper/" + esc(vg) + "-" + esc(lv), true
}
