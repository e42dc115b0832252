package nbd_test

import (
	"fmt"
	"testing"

	"gotap.dev/libtap/drivers/nbd"
)

// BenchmarkRead: 4 KiB reads from 32 callers at once (the scheduler's
// depth) on every server of servers, over one and two connections.
func BenchmarkRead(b *testing.B) {
	for _, srv := range servers {
		for _, conns := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/%d conns", srv.name, conns), func(b *testing.B) {
				d, err := nbd.Dial(srv.start(b), nbd.Options{Conns: conns})
				if err != nil {
					b.Fatal(err)
				}
				defer d.Close()
				b.SetParallelism(16) // 32 callers on 2 CPUs
				b.SetBytes(4096)
				b.RunParallel(func(pb *testing.PB) {
					buf := make([]byte, 4096)
					off := int64(0)
					for pb.Next() {
						if err := d.ReadV([][]byte{buf}, off); err != nil {
							b.Error(err)
							return
						}
						off = (off + 7*4096) % (8 << 20)
					}
				})
			})
		}
	}
}
