package main

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"gotap.dev/libvhd/imagefile"
)

// scan -l VG: the logical volumes of an LVM volume group, each holding
// one VHD (LVHD, as XenServer's storage manager lays them out). They are
// listed and activated through LVM's own tools, never by reading its
// metadata: lvm2 owns it, and its locking.
//
// A volume's name is the image's name (its parent, the header's parent
// name, is another volume's), its device the one lvs names, its size
// the device's (the volume's, not the image's).

// lvsArgs is the listing, sizes in bytes.
var lvsArgs = []string{"lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "lv_name,lv_size,lv_path,lv_attr"}

// volume is one line of lvs.
type volume struct {
	name, path string
	size       int64
	active     bool
}

// parseLVS reads lvs's lines: NAME SIZE PATH ATTR, blank separated. A
// volume without a path (a thin pool, a hidden internal volume) holds no
// image and is left out. lv_attr's fifth character is 'a' when active.
func parseLVS(out []byte) ([]volume, error) {
	var vols []volume
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		switch len(f) {
		case 0, 3:
			continue
		case 4:
		default:
			return nil, fmt.Errorf("lvs printed %q: want NAME SIZE PATH ATTR", strings.TrimSpace(l))
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || len(f[3]) < 5 {
			return nil, fmt.Errorf("lvs printed %q: want NAME SIZE PATH ATTR", strings.TrimSpace(l))
		}
		vols = append(vols, volume{name: f[0], path: f[2], size: size, active: f[3][4] == 'a'})
	}
	return vols, nil
}

// lvm runs one of LVM's tools; its stderr goes into the error.
func lvm(args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// scanTargets are the images to scan: with -l VG, the volumes -m GLOB
// matches and FILES; else fileTargets. release deactivates the volumes
// the scan activated.
func (c *scanCmd) scanTargets(stderr io.Writer) (targets []scanTarget, release func(), err error) {
	if c.VG == "" {
		targets, err = c.fileTargets()
		return targets, func() {}, err
	}
	files := *c
	files.Match = "" // the glob names volumes, not files
	if targets, err = files.fileTargets(); err != nil {
		return nil, func() {}, err
	}
	vols, release, err := volumeTargets(c.VG, c.Match, stderr)
	return append(vols, targets...), release, err
}

// volumeTargets lists VG's volumes whose names match glob, activating
// the inactive ones. release deactivates those it
// activated, reporting failures on stderr.
func volumeTargets(vg, glob string, stderr io.Writer) (targets []scanTarget, release func(), err error) {
	out, err := lvm(append(lvsArgs, vg)...)
	if err != nil {
		return nil, func() {}, fmt.Errorf("-l %s: %w", vg, err)
	}
	vols, err := parseLVS(out)
	if err != nil {
		return nil, func() {}, fmt.Errorf("-l %s: %w", vg, err)
	}
	var activated []string
	release = func() {
		for _, lv := range activated {
			if _, err := lvm("lvchange", "-an", lv); err != nil {
				fmt.Fprintf(stderr, "vhd-util scan: deactivating again: %v\n", err)
			}
		}
	}
	for _, v := range vols {
		if ok, err := filepath.Match(glob, v.name); err != nil {
			return nil, release, usagef("-m %q: %v", glob, err)
		} else if !ok {
			continue
		}
		if !v.active {
			lv := vg + "/" + v.name
			if _, err := lvm("lvchange", "-ay", lv); err != nil {
				return nil, release, fmt.Errorf("-l %s: %w", vg, err)
			}
			activated = append(activated, lv)
		}
		targets = append(targets, scanTarget{name: v.name, device: v.path, volume: true})
	}
	return targets, release, nil
}

// parentTarget is the image -a scans after t: the volume beside t's
// named by t's parent, or the parent file.
func parentTarget(t scanTarget, next string) scanTarget {
	if t.volume {
		return scanTarget{name: filepath.Base(next), device: next, volume: true}
	}
	return scanTarget{name: next, device: next}
}

// volumeSize is a volume's size: its device's.
func volumeSize(device string) (int64, error) {
	f, err := imagefile.Open(device, 0, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return imagefile.Size(f)
}
