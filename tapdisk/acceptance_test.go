package main

import (
	"bufio"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/control/controltest"
)

// TestBadRequestsKeepServing: malformed JSON, unknown ops and fields,
// oversized lines and peers of another uid get clean errors, and tapdisk
// stays up and keeps serving.
func TestBadRequestsKeepServing(t *testing.T) {
	// A run directory another uid may enter, so that only the socket's
	// mode and the credential check stand in its way.
	p := start(t, controltest.PublicDir(t), []string{"ram:1M"})
	conn, err := net.Dial("unix", p.ctl)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	ask := func(line string) string {
		t.Helper()
		if _, err := conn.Write([]byte(line + "\n")); err != nil {
			t.Fatalf("send: %v", err)
		}
		reply, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reply to %.60q: %v", line, err)
		}
		return reply
	}
	tests := []struct{ name, line, want string }{
		{"malformed JSON", `{"op":"list"`, `"errno":"EINVAL"`},
		{"not JSON", `list`, `"errno":"EINVAL"`},
		{"unknown op", `{"v":1,"id":1,"op":"format-disk"}`, `"errno":"ENOSYS"`},
		{"unknown field", `{"v":1,"id":2,"op":"stats","minor":0,"verbose":true}`, `"errno":"EINVAL"`},
		{"unknown minor", `{"v":1,"id":3,"op":"stats","minor":9}`, `"errno":"ENOENT"`},
		{"wrong version", `{"v":9,"id":4,"op":"list"}`, `"errno":"EPROTONOSUPPORT"`},
		{"good after bad", `{"v":1,"id":5,"op":"stats","minor":0}`, `"ok":true`},
	}
	for _, tt := range tests {
		if got := ask(tt.line); !strings.Contains(got, tt.want) {
			t.Errorf("%s: reply %s; want %s", tt.name, got, tt.want)
		}
	}
	if got := ask(`{"op":"list","x":"` + strings.Repeat("x", control.MaxLine) + `"}`); !strings.Contains(got, `"errno":"EMSGSIZE"`) {
		t.Errorf("oversized line: reply %s; want EMSGSIZE", got)
	}

	if os.Geteuid() == 0 {
		if got := controltest.AsUser(t, controltest.Nobody, p.ctl, `{"op":"list"}`); !strings.Contains(got, "permission denied") {
			t.Errorf("uid %d on the 0600 socket: %s; want permission denied", controltest.Nobody, got)
		}
		// Open the mode up, as a careless admin might: the credential
		// check still refuses.
		if err := os.Chmod(p.ctl, 0o666); err != nil {
			t.Fatal(err)
		}
		if got := controltest.AsUser(t, controltest.Nobody, p.ctl, `{"op":"close","minor":0}`); !strings.Contains(got, `"errno":"EPERM"`) {
			t.Errorf("uid %d on a 0666 socket: %s; want EPERM", controltest.Nobody, got)
		}
	} else {
		t.Log("not root: the peer of another uid is only tested in libtap/control")
	}

	if !p.alive() {
		t.Fatal("tapdisk exited")
	}
	infos, err := p.client(t).List(t.Context())
	if err != nil || len(infos) != 1 || infos[0].State != 0 {
		t.Errorf("List() after bad requests = %+v, %v; want minor 0 running", infos, err)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit status = %d; want 0", code)
	}
}
