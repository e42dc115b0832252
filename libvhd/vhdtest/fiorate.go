package vhdtest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// FioReport is what a fio run measured, every job together.
type FioReport struct {
	ReadBW, WriteBW     float64 // bytes a second
	ReadIOPS, WriteIOPS float64
	// Errors counts the I/O errors fio went on after (--continue_on_error);
	// FirstError is the errno of the first (0: none).
	Errors, FirstError int
}

// RunFio runs fio on the NBD export at uri with args (jobs, --rw, --bs,
// --runtime, …; --group_reporting is added, so every job is reported
// together) and returns what it measured. A fio that fails (an error it
// did not go on after, a verify mismatch) fails the test.
func RunFio(t testing.TB, uri string, args ...string) FioReport {
	t.Helper()
	requireFioNBD(t)
	base := []string{"--ioengine=nbd", "--uri=" + uri, "--group_reporting", "--output-format=json"}
	out, err := exec.Command("fio", append(base, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("fio %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	// The JSON follows whatever the nbd engine printed first.
	var rep struct {
		Jobs []struct {
			TotalErr   int `json:"total_err"`
			FirstError int `json:"first_error"`
			Read       struct {
				BW   float64 `json:"bw_bytes"`
				IOPS float64 `json:"iops"`
			} `json:"read"`
			Write struct {
				BW   float64 `json:"bw_bytes"`
				IOPS float64 `json:"iops"`
			} `json:"write"`
		} `json:"jobs"`
	}
	start := strings.IndexByte(string(out), '{')
	if start < 0 || json.Unmarshal(out[start:], &rep) != nil || len(rep.Jobs) != 1 {
		t.Fatalf("fio printed no report of one group:\n%s", out)
	}
	j := rep.Jobs[0]
	return FioReport{ReadBW: j.Read.BW, WriteBW: j.Write.BW, ReadIOPS: j.Read.IOPS, WriteIOPS: j.Write.IOPS,
		Errors: j.TotalErr, FirstError: j.FirstError}
}
