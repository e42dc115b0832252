package nbd_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gotap.dev/libtap/drivers/nbd"
	"gotap.dev/libvhd/vhdtest"
)

// servers are the real NBD servers the pipelined driver is tried on:
// ours, serving a RAM disk in process, and nbdkit's memory plugin when
// nbdkit is installed. Both advertise multi-conn. Each returns the
// driver's address of an 8 MiB disk of zeros.
var servers = []struct {
	name  string
	start func(t testing.TB) string
}{
	{"gotap", func(t testing.TB) string { return "unix:" + export(t, "ram:8M") }},
	{"gotap over TCP", func(t testing.TB) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		serveOn(t, ln, "ram:8M")
		return ln.Addr().String()
	}},
	{"nbdkit", func(t testing.TB) string {
		vhdtest.RequireTool(t, "nbdkit")
		sock := filepath.Join(t.TempDir(), "nbdkit.sock")
		cmd := exec.Command("nbdkit", "-f", "--unix", sock, "memory", "8M")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		// The socket exists from its bind, before nbdkit listens on it:
		// ready is when a connection is taken.
		for deadline := time.Now().Add(10 * time.Second); !accepts(sock); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("nbdkit did not take connections on its socket")
			}
		}
		return "unix:" + sock
	}},
}

func accepts(sock string) bool {
	c, err := net.Dial("unix", sock)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestPipelinedOnRealServers: 32 callers at once (the scheduler's depth)
// write and read back their own blocks, of several sizes, over every
// connection count; each read must see exactly what its caller wrote.
func TestPipelinedOnRealServers(t *testing.T) {
	const callers, rounds, block = 32, 40, 64 << 10
	for _, srv := range servers {
		for _, conns := range []int{1, 4} {
			t.Run(fmt.Sprintf("%s/%d conns", srv.name, conns), func(t *testing.T) {
				d, err := nbd.Dial(srv.start(t), nbd.Options{Conns: conns})
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				if d.Conns() != conns {
					t.Errorf("%d connections; want %d", d.Conns(), conns)
				}
				var wg sync.WaitGroup
				for g := range callers {
					wg.Go(func() {
						r := rand.New(rand.NewPCG(uint64(g), 1))
						want, got := make([]byte, block), make([]byte, block)
						base := int64(g) * 4 * block // each caller's own blocks
						for i := range rounds {
							n := 512 << r.IntN(8) // 512 B to 64 KiB
							off := base + r.Int64N(3*block)&^511
							for j := range want[:n] {
								want[j] = byte(g + i + j)
							}
							if err := d.WriteV([][]byte{want[:n]}, off, i%8 == 0); err != nil {
								t.Errorf("caller %d: write: %v", g, err)
								return
							}
							if err := d.ReadV([][]byte{got[:n]}, off); err != nil {
								t.Errorf("caller %d: read: %v", g, err)
								return
							}
							if !bytes.Equal(got[:n], want[:n]) {
								t.Errorf("caller %d, round %d: read back differs", g, i)
								return
							}
						}
					})
				}
				wg.Wait()
				if err := d.Flush(); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

// TestFlushCoversEveryConnection: with multi-conn, data written and
// acknowledged on one connection reads back on another once a flush on
// any of them has returned, which is what lets Flush use one.
func TestFlushCoversEveryConnection(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			d, err := nbd.Dial(srv.start(t), nbd.Options{Conns: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.Conns() != 2 {
				t.Fatalf("%d connections; want 2", d.Conns())
			}
			want := bytes.Repeat([]byte{0x5A}, 8192)
			got := make([]byte, len(want))
			for _, way := range [][2]int{{0, 1}, {1, 0}} {
				want[0]++
				if err := d.WriteOn(way[0], want, 1<<20); err != nil {
					t.Fatal(err)
				}
				if err := d.FlushOn(way[1]); err != nil {
					t.Fatal(err)
				}
				if err := d.ReadOn(way[1], got, 1<<20); err != nil || !bytes.Equal(got, want) {
					t.Errorf("written on %d, flushed and read on %d: %v, same bytes %v", way[0], way[1], err, bytes.Equal(got, want))
				}
			}
		})
	}
}
