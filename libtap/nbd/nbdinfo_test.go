package nbd_test

import (
	"encoding/json"
	"os/exec"
	"testing"

	"gotap.dev/libvhd/vhdtest"
)

func TestNbdinfo(t *testing.T) {
	vhdtest.RequireTool(t, "nbdinfo")
	const size = 64 << 20
	for _, tc := range []struct{ name, spec string }{
		{"aio", "aio:" + rawDisk(t, size)},
		{"vhd", "vhd:" + vhdDisk(t, t.TempDir(), "d.vhd", size, "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, tc.spec)
			var info struct {
				Exports []struct {
					Size     int64    `json:"export-size"`
					MinBlock int      `json:"block_size_minimum"`
					MaxBlock int      `json:"block_size_maximum"`
					Contexts []string `json:"contexts"`
				} `json:"exports"`
				Structured bool `json:"structured"`
			}
			out := vhdtest.Run(t, "nbdinfo", "--json", s.uri())
			if err := json.Unmarshal([]byte(out), &info); err != nil {
				t.Fatalf("nbdinfo --json: %v\n%s", err, out)
			}
			if len(info.Exports) != 1 || info.Exports[0].Size != size {
				t.Fatalf("nbdinfo --json = %s; want one export of %d bytes", out, size)
			}
			if e := info.Exports[0]; e.MinBlock != 512 || e.MaxBlock != 32<<20 {
				t.Errorf("block sizes min %d max %d; want 512, 32 MiB", e.MinBlock, e.MaxBlock)
			}
			if e := info.Exports[0]; !info.Structured || len(e.Contexts) != 1 || e.Contexts[0] != "base:allocation" {
				t.Errorf("structured %v, contexts %q; want true, [base:allocation]", info.Structured, e.Contexts)
			}
			for _, can := range []string{"flush", "fua", "trim", "zero", "fast-zero", "multi-conn", "cache", "df", "structured-reply"} {
				if err := exec.Command("nbdinfo", "--can", can, s.uri()).Run(); err != nil {
					t.Errorf("nbdinfo --can %s: %v; want exit 0 (true)", can, err)
				}
			}
			if err := exec.Command("nbdinfo", "--is", "read-only", s.uri()).Run(); err == nil {
				t.Error("nbdinfo --is read-only: true for a writable export")
			}
		})
	}
}
