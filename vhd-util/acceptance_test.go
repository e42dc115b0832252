package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"

	"gotap.dev/libvhd/vhdtest"
)

// mediaSize is vhdiinfo's "Media size : 1.0 GiB (1073742336 bytes)" line.
var mediaSize = regexp.MustCompile(`Media size\s*:.*\((\d+) bytes\)`)

// Images made by `vhd-util create` are judged by outside readers: QEMU and
// libvhdi must report exactly the size asked for, and check must pass.
func TestAcceptanceCreate(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-img")
	vhdtest.RequireTool(t, "vhdiinfo")
	sizes := []struct {
		arg  string
		want int64
	}{
		{"1", 1 << 20},
		{"20", 20 << 20},
		{"1073742336B", 1<<30 + 512},
		{"100G", 100 << 30},
		{"2040G", 2040 << 30},
	}
	dir := t.TempDir()
	for _, fixed := range []bool{false, true} {
		for _, sz := range sizes {
			kind := map[bool]string{false: "dynamic", true: "fixed"}[fixed]
			t.Run(kind+"-"+sz.arg, func(t *testing.T) {
				path := filepath.Join(dir, fmt.Sprintf("%s-%s.vhd", kind, sz.arg))
				args := []string{"create", "-n", path, "-s", sz.arg}
				if fixed {
					args = append(args, "-r")
				}
				ok(t, args...)

				var info struct {
					VirtualSize int64 `json:"virtual-size"`
				}
				out := vhdtest.Run(t, "qemu-img", "info", "-f", "vpc", "--output=json", path)
				if err := json.Unmarshal([]byte(out), &info); err != nil {
					t.Fatalf("qemu-img info: %v\n%s", err, out)
				}
				if info.VirtualSize != sz.want {
					t.Errorf("qemu-img virtual-size = %d; want %d", info.VirtualSize, sz.want)
				}

				m := mediaSize.FindStringSubmatch(vhdtest.Run(t, "vhdiinfo", path))
				if m == nil {
					t.Fatalf("vhdiinfo printed no media size")
				}
				if got, _ := strconv.ParseInt(m[1], 10, 64); got != sz.want {
					t.Errorf("vhdiinfo media size = %d; want %d", got, sz.want)
				}

				wantOutput(t, path+" is valid\n", "check", "-n", path)
			})
		}
	}
	for _, size := range []string{"2041G", "2089013M", "3T"} {
		fails(t, syscall.EINVAL, "over the VHD limit of 2040 GiB", "create", "-n", filepath.Join(dir, "huge.vhd"), "-s", size)
	}
}

// Images from other producers that open fine check valid.
func TestAcceptanceSamples(t *testing.T) {
	for _, s := range []string{"hyperv2012r2-dynamic.vhd.bz2", "virtualpc-dynamic.vhd.bz2", "d2v-zerofilled.vhd.bz2"} {
		t.Run(s, func(t *testing.T) {
			path := vhdtest.Sample(t, "qemu-iotests/"+s)
			wantOutput(t, path+" is valid\n", "check", "-n", path, "-b")
		})
	}
	afl := vhdtest.Sample(t, "qemu-iotests/afl5.img.bz2")
	fails(t, syscall.EINVAL, "problem(s) found", "check", "-n", afl)
}

// Images QEMU writes (each creator and subformat, with data) check valid.
func TestAcceptanceQEMUImages(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-img")
	dir := t.TempDir()
	raw := filepath.Join(dir, "data.raw")
	vhdtest.Run(t, "qemu-img", "create", "-q", "-f", "raw", raw, "5M")
	vhdtest.Run(t, "qemu-io", "-f", "raw", "-c", "write -P 0x5a 1M 2M", raw)
	tests := []struct {
		name string
		args []string
	}{
		{"dynamic", []string{"create", "-q", "-f", "vpc"}},
		{"force_size", []string{"create", "-q", "-f", "vpc", "-o", "force_size=on"}},
		{"fixed", []string{"create", "-q", "-f", "vpc", "-o", "subformat=fixed"}},
		{"converted with data", []string{"convert", "-f", "raw", "-O", "vpc", raw}},
		{"converted fixed", []string{"convert", "-f", "raw", "-O", "vpc", "-o", "subformat=fixed", raw}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".vhd")
			args := append(tt.args, path)
			if tt.args[0] == "create" {
				args = append(args, "4G")
			}
			vhdtest.Run(t, "qemu-img", args...)
			wantOutput(t, path+" is valid\n", "check", "-n", path, "-b")
		})
	}
}
