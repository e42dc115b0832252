package libvhd

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// nullUUID gives child.vhd of a crash file system a null unique id in
// both footers, durably.
func nullUUID(c *crashFS) {
	f := c.files["child.vhd"]
	for _, off := range []int{0, len(f.written) - FooterSize} {
		b := f.written[off : off+FooterSize]
		clear(b[0x44:0x54])
		sum := checksum(b, 0x40)
		b[0x40], b[0x41], b[0x42], b[0x43] = byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum)
	}
	f.durable = bytes.Clone(f.written)
}

func footerUUIDs(t *testing.T, fsys FS) (eof, copy0 uuid.UUID) {
	t.Helper()
	im, err := Open("child.vhd", OpenOptions{ReadOnly: true, NoParent: true, FS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	var b [FooterSize]byte
	if err := readFull(im.file, b[:], 0); err != nil {
		t.Fatal(err)
	}
	return im.Footer().UUID, uuid.UUID(b[0x44:0x54])
}

func TestGiveUUID(t *testing.T) {
	c := maintFixture(t)
	fsys := truncFS{c}
	before, _ := footerUUIDs(t, fsys)
	if given, err := GiveUUID("child.vhd", fsys); err != nil || given {
		t.Fatalf("GiveUUID of an image with a UUID = %v, %v; want false, nil", given, err)
	}
	if after, _ := footerUUIDs(t, fsys); after != before {
		t.Errorf("GiveUUID changed the UUID %s to %s", before, after)
	}
	nullUUID(c)
	if given, err := GiveUUID("child.vhd", fsys); err != nil || !given {
		t.Fatalf("GiveUUID of a null UUID = %v, %v; want true, nil", given, err)
	}
	if eof, copy0 := footerUUIDs(t, fsys); eof == uuid.Nil || eof != copy0 {
		t.Errorf("after GiveUUID: EOF footer %s, copy %s; want one new UUID in both", eof, copy0)
	}
}

// A crash after any write of GiveUUID leaves an image that reads as
// before, whose only problems are the null id, the footers' difference or
// a torn EOF footer, and that GiveUUID run again makes valid.
func TestGiveUUIDCrashSafety(t *testing.T) {
	fixture := func() *crashFS {
		c := maintFixture(t)
		nullUUID(c)
		return c
	}
	c := fixture()
	old := readDisk(t, truncFS{c}, "before")
	start := c.writes
	if _, err := GiveUUID("child.vhd", truncFS{c}); err != nil {
		t.Fatal(err)
	}
	n := c.writes - start
	for k := 0; k < n; k++ {
		for _, tear := range []bool{false, true} {
			c := fixture()
			c.limit, c.tear = c.writes+k, tear
			if _, err := GiveUUID("child.vhd", truncFS{c}); err == nil {
				t.Fatalf("crash after write %d of %d: GiveUUID reported success", k, n)
			}
			for kind, s := range survivors(c) {
				what := fmt.Sprintf("crash after write %d of %d (torn=%v), %s", k, n, tear, kind)
				problems, err := Check("child.vhd", CheckOptions{FS: truncFS{s}})
				if err != nil {
					t.Fatalf("%s: Check: %v", what, err)
				}
				for _, p := range problems {
					if !strings.Contains(p.Msg, "null unique id") && !strings.Contains(p.Msg, "differs from the EOF footer") && !strings.Contains(p.Msg, "repair restores it") {
						t.Errorf("%s: Check: %v", what, p)
					}
				}
				if got := readDisk(t, truncFS{s}, what); !bytes.Equal(got, old) {
					t.Fatalf("%s: the disk reads differently", what)
				}
				if _, err := GiveUUID("child.vhd", truncFS{s}); err != nil {
					t.Fatalf("%s: GiveUUID again: %v", what, err)
				}
				if problems, err := Check("child.vhd", CheckOptions{FS: truncFS{s}}); err != nil || len(problems) > 0 {
					t.Errorf("%s: after GiveUUID again: %v %v", what, problems, err)
				}
			}
		}
	}
}
