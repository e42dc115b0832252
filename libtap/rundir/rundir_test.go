package rundir

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		name, flag, env, xdg string
		want                 Dir
	}{
		{"flag wins", "/flag", "/env", "/xdg", "/flag"},
		{"env over default", "", "/env", "/xdg", "/env"},
		{"default", "", "", "/xdg", defaultFor("/xdg")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(Env, tt.env)
			t.Setenv("XDG_RUNTIME_DIR", tt.xdg)
			got, err := Resolve(tt.flag)
			if err != nil || got != tt.want {
				t.Errorf("Resolve(%q) = %q, %v; want %q", tt.flag, got, err, tt.want)
			}
		})
	}
}

// defaultFor is what Resolve must pick with neither flag nor env.
func defaultFor(xdg string) Dir {
	if os.Geteuid() == 0 {
		return System
	}
	return Dir(filepath.Join(xdg, "blktap-control"))
}

func TestNames(t *testing.T) {
	d := Dir("/run/blktap-control")
	for _, tt := range []struct{ got, want string }{
		{d.Ctl(123), "/run/blktap-control/ctl123"},
		{d.NBD(123, 4), "/run/blktap-control/nbd123.4"},
		{d.Marker(4), "/run/blktap-control/tapdisk/tapdisk-4"},
	} {
		if tt.got != tt.want {
			t.Errorf("name = %q; want %q", tt.got, tt.want)
		}
	}
}

func TestList(t *testing.T) {
	d := Dir(t.TempDir())
	if err := d.Create(); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{42, 7} {
		ln, err := net.Listen("unix", d.Ctl(pid))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
	}
	// Neither a regular file named like a socket nor other sockets count.
	os.WriteFile(d.Ctl(9), nil, 0o600)
	os.WriteFile(filepath.Join(string(d), "ctlx1"), nil, 0o600)
	ln, err := net.Listen("unix", d.NBD(42, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	got, err := d.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []Ctl{{7, d.Ctl(7)}, {42, d.Ctl(42)}}
	if !slices.Equal(got, want) {
		t.Errorf("List() = %v; want %v", got, want)
	}

	none, err := Dir(filepath.Join(string(d), "missing")).List()
	if err != nil || len(none) != 0 {
		t.Errorf("List() of a missing directory = %v, %v; want none, nil", none, err)
	}
}
