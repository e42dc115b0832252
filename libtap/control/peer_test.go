package control

import (
	"os"
	"strings"
	"testing"

	"gotap.dev/libtap/control/controltest"
)

// TestPeerOfAnotherUid connects as nobody: the 0600 socket refuses the
// connection; with its mode opened up, the credential check refuses the
// requests; the server serves its own user throughout.
func TestPeerOfAnotherUid(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a client as another uid")
	}
	path := serve(t, newFake(), controltest.PublicDir(t))
	if got := controltest.AsUser(t, controltest.Nobody, path, `{"op":"pid"}`); !strings.Contains(got, "permission denied") {
		t.Errorf("nobody on a 0600 socket: %s; want permission denied", got)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if got := controltest.AsUser(t, controltest.Nobody, path, `{"op":"pid"}`); !strings.Contains(got, `"errno":"EPERM"`) {
		t.Errorf("nobody on a 0666 socket: %s; want EPERM", got)
	}
	if got := dialWire(t, path).ask(`{"op":"pid"}`); !strings.Contains(got, `"ok":true`) {
		t.Errorf("root after refused peers: %s", got)
	}
}
