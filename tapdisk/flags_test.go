package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestCommandLine runs tapdisk in-process on command lines it refuses
// before serving anything, and on --help.
func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		code    int
		wantOut string // in stdout
		wantErr string // in stderr
	}{
		{"help", []string{"--help"}, exitOK, "nbdinfo", ""},
		{"unknown type", []string{"qcow:/x"}, exitUsage, "", `unknown type "qcow"`},
		{"not type:path", []string{"disk.vhd"}, exitUsage, "", "want TYPE:PATH"},
		{"unknown flag", []string{"--frobnicate"}, exitUsage, "", "unknown flag"},
		{"tls half", []string{"--tcp", ":0", "--tls-key", "flags.go"}, exitUsage, "", "--tls-cert and --tls-key go together"},
		{"bad timeout", []string{"-t", "0"}, exitUsage, "", "--timeout"},
		{"bad open timeout", []string{"--open-timeout", "0s"}, exitUsage, "", "--open-timeout"},
		{"bad connection limit", []string{"--max-conns", "0"}, exitUsage, "", "--max-conns"},
		{"bad control connection limit", []string{"--max-control-conns", "-1"}, exitUsage, "", "--max-control-conns"},
		{"bad handshake timeout", []string{"--handshake-timeout", "0s"}, exitUsage, "", "--handshake-timeout"},
		{"bad idle poll", []string{"--idle-poll", "-1us"}, exitUsage, "", "--idle-poll"},
		{"tcp without client authentication", []string{"--tcp", ":0"}, exitUsage, "", "or --tcp-insecure"},
		{"tls without client ca", []string{"--tcp", ":0", "--tls-cert", "flags.go", "--tls-key", "flags.go"}, exitUsage, "", "--tls-ca"},
		{"client ca and insecure", []string{"--tcp", ":0", "--tls-cert", "flags.go", "--tls-key", "flags.go", "--tls-ca", "flags.go", "--tcp-insecure"}, exitUsage, "", "give one"},
		{"client ca without a certificate", []string{"--tcp", ":0", "--tls-ca", "flags.go"}, exitUsage, "", "--tls-ca needs --tls-cert"},
		{"insecure without tcp", []string{"--tcp-insecure"}, exitUsage, "", "need --tcp"},
		{"insecure beyond loopback without tls", []string{"--run-dir", dir, "--tcp", "0.0.0.0:0", "--tcp-insecure"}, exitFail, "", "without TLS"},
		{"missing image", []string{"--run-dir", dir, "aio:/nonexistent"}, exitFail, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tt.args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stdout.String(), tt.wantOut) || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("run(%q) = %d\nstdout: %s\nstderr: %s\nwant %d, stdout with %q, stderr with %q",
					tt.args, code, stdout.String(), stderr.String(), tt.code, tt.wantOut, tt.wantErr)
			}
		})
	}
}
