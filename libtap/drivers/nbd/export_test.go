package nbd_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"

	nbdclient "gotap.dev/libtap/drivers/nbd"
	"gotap.dev/libtap/nbd"
	"gotap.dev/libtap/vbd"
)

// TestDialExport: Options.Export picks one export of a server that has
// several (as in an NBD URI's path); one it does not have is refused.
func TestDialExport(t *testing.T) {
	srv := nbd.NewServer(nbd.Options{})
	for name, spec := range map[string]string{"small": "ram:1M", "big": "ram:2M"} {
		v, err := vbd.Open(0, spec, vbd.Options{RingSlots: 4, SlotBuf: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { v.Close(context.Background()) })
		srv.Add(name, v)
	}
	sock := filepath.Join(t.TempDir(), "nbd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(context.Background(), ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })

	for _, tt := range []struct {
		export string
		size   int64 // 0: refused
	}{{"big", 2 << 20}, {"small", 1 << 20}, {"none", 0}, {"", 0}} {
		d, err := nbdclient.Dial("unix:"+sock, nbdclient.Options{ReadOnly: true, Export: tt.export})
		switch {
		case tt.size == 0 && err == nil:
			d.Close()
			t.Errorf("Dial(export %q) opened a disk of %d bytes; want an error", tt.export, d.Size())
		case tt.size != 0 && err != nil:
			t.Errorf("Dial(export %q): %v", tt.export, err)
		case err == nil:
			if d.Size() != tt.size {
				t.Errorf("Dial(export %q): size %d; want %d", tt.export, d.Size(), tt.size)
			}
			d.Close()
		}
	}
}
