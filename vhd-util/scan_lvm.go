package main

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// scan -l VG: the logical volumes of an LVM volume group, each holding
// one VHD (LVHD, as XenServer's storage manager lays them out). They are
// listed and activated through LVM's own tools, never by reading its
// metadata: lvm2 owns it, and its locking.
//
// A volume's name is the image's name (its parent, the header's parent
// name, is another volume's), its device the one lvs names, its size
// the one lvs says (the volume's, not the image's).

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
	g, err := listGroup(c.VG, stderr)
	if err != nil {
		return nil, func() {}, err
	}
	var vols []scanTarget
	for _, v := range g.vols {
		ok, err := filepath.Match(c.Match, v.name)
		if err != nil {
			return nil, g.release, usagef("-m %q: %v", c.Match, err)
		}
		if ok {
			t, err := g.target(v.name)
			if err != nil {
				return nil, g.release, err
			}
			vols = append(vols, t)
		}
	}
	return append(vols, targets...), g.release, nil
}

// volumeGroup is a volume group as lvs listed it, and the volumes the
// scan activated.
type volumeGroup struct {
	name      string
	vols      []volume
	activated []string
	stderr    io.Writer // for failures to deactivate
}

func listGroup(vg string, stderr io.Writer) (*volumeGroup, error) {
	out, err := lvm(append(lvsArgs, vg)...)
	if err != nil {
		return nil, fmt.Errorf("-l %s: %w", vg, err)
	}
	vols, err := parseLVS(out)
	if err != nil {
		return nil, fmt.Errorf("-l %s: %w", vg, err)
	}
	return &volumeGroup{name: vg, vols: vols, stderr: stderr}, nil
}

// target is volume name to scan, activated if it was not. A name lvs did
// not list (a parent named by an image) is read at /dev/VG/NAME.
func (g *volumeGroup) target(name string) (scanTarget, error) {
	v := g.volume(name)
	if v == nil {
		return scanTarget{name: name, device: filepath.Join("/dev", g.name, name), vg: g}, nil
	}
	if !v.active {
		lv := g.name + "/" + v.name
		if _, err := lvm("lvchange", "-ay", lv); err != nil {
			return scanTarget{}, fmt.Errorf("-l %s: %w", g.name, err)
		}
		g.activated = append(g.activated, lv)
		v.active = true
	}
	return scanTarget{name: v.name, device: v.path, vg: g}, nil
}

func (g *volumeGroup) volume(name string) *volume {
	for i := range g.vols {
		if g.vols[i].name == name {
			return &g.vols[i]
		}
	}
	return nil
}

// size is a volume's size as lvs listed it (0 if it did not).
func (g *volumeGroup) size(name string) int64 {
	if v := g.volume(name); v != nil {
		return v.size
	}
	return 0
}

// release deactivates again the volumes the scan activated.
func (g *volumeGroup) release() {
	for _, lv := range g.activated {
		if _, err := lvm("lvchange", "-an", lv); err != nil {
			fmt.Fprintf(g.stderr, "vhd-util scan: deactivating again: %v\n", err)
		}
	}
}

// parentTarget is the image -a scans after t: the volume t's parent
// names (activated if it was not), or the parent file.
func parentTarget(t scanTarget, next string) scanTarget {
	if t.vg == nil {
		return scanTarget{name: next, device: next}
	}
	p, err := t.vg.target(filepath.Base(next))
	if err != nil {
		// Scanned as it is: its error line says it does not open.
		return scanTarget{name: filepath.Base(next), device: next, vg: t.vg}
	}
	return p
}
