package libvhd

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// Crash injection for Resize and Revert: each is cut after every write
// call (torn or not), and every survivor (kill -9 and power loss) must be
// the old image or the grown one, valid and reading as it should, or
// disabled, naming its journal, and then Revert must give back the old
// file byte for byte. Revert itself is cut the same way.

// journalTruncFS is the crash file system with everything a journaled
// resize needs: truncation, removal, directory syncs.
type journalTruncFS struct{ truncFS }

func (f journalTruncFS) Remove(name string) error { return journalCrashFS{f.crashFS}.Remove(name) }
func (journalTruncFS) SyncDir(string) error       { return nil }

const resizeJournal = "/resize.journal" // absolute, as Resize records it

// resizeCase is an image to grow and how.
type resizeCase struct {
	name     string
	typ      DiskType
	from, to int64
	maxSize  int64 // create -S
	fast     bool
	moves    bool   // the BAT must grow over blocks
	allow    string // the one problem Check may report between two writes
}

var resizeCases = []resizeCase{
	{name: "dynamic, BAT grows over blocks", typ: Dynamic, from: 16 * crashBlock, to: 1024 * crashBlock, moves: true},
	{name: "differencing, BAT grows over blocks", typ: Differencing, from: 16 * crashBlock, to: 1024 * crashBlock, moves: true},
	{name: "dynamic, BAT grows within its sector", typ: Dynamic, from: 16 * crashBlock, to: 100*crashBlock + 3*SectorSize},
	{name: "fixed", typ: Fixed, from: 16 * crashBlock, to: 20*crashBlock + SectorSize},
	{name: "dynamic, journal, room reserved", typ: Dynamic, from: 16 * crashBlock, to: 40 * crashBlock, maxSize: 64 * crashBlock, allow: "differs from the EOF footer"},
	{name: "dynamic, fast", typ: Dynamic, from: 16 * crashBlock, to: 64 * crashBlock, maxSize: 64 * crashBlock, fast: true, allow: "differs from the EOF footer"},
	{name: "differencing, fast", typ: Differencing, from: 16 * crashBlock, to: 30*crashBlock + SectorSize, maxSize: 32 * crashBlock, fast: true, allow: "differs from the EOF footer"},
}

// resizeFixture builds tc's image, named "img.vhd" (on "base.vhd" if
// differencing), with data in its first and last blocks and one in the
// middle; it returns a maker of fresh copies of the files, the old disk
// and the grown one.
func resizeFixture(t *testing.T, tc resizeCase) (fresh func() *crashFS, old, grown []byte) {
	t.Helper()
	c := newCrashFS()
	fsys := truncFS{c}
	opts := CreateOptions{Type: tc.typ, Size: tc.from, MaxSize: tc.maxSize, BlockSize: crashBlock, FS: fsys}
	old = make([]byte, tc.from)
	if tc.typ == Differencing {
		base, err := Create("base.vhd", CreateOptions{Type: Dynamic, Size: tc.from, BlockSize: crashBlock, FS: fsys})
		if err != nil {
			t.Fatal(err)
		}
		fillPattern(old, 0x30)
		mustWrite(t, base, old, 0)
		closeOK(t, base)
		opts.Type, opts.Parent = 0, "base.vhd"
	}
	im, err := Create("img.vhd", opts)
	if err != nil {
		t.Fatal(err)
	}
	for i, off := range []int64{4096, 7*crashBlock + 512, tc.from - 3*SectorSize} {
		data := make([]byte, min(crashBlock, tc.from-off))
		fillPattern(data, byte(0x80+16*i))
		mustWrite(t, im, data, off)
		copy(old[off:], data)
	}
	closeOK(t, im)
	grown = make([]byte, roundUp(tc.to, SectorSize))
	copy(grown, old)
	files := map[string][]byte{}
	for name, f := range c.files {
		files[name] = bytes.Clone(f.written)
	}
	return func() *crashFS {
		c := newCrashFS()
		for name, b := range files {
			c.files[name] = &memFile{fs: c, written: bytes.Clone(b), durable: bytes.Clone(b)}
		}
		return c
	}, old, grown
}

func (tc resizeCase) run(fsys JournalFS, log func(string)) error {
	opts := ResizeOptions{FS: fsys, Fast: tc.fast, Log: log}
	if !tc.fast {
		opts.Journal = resizeJournal
	}
	return Resize("img.vhd", tc.to, opts)
}

func TestResizeCrashSafety(t *testing.T) {
	for _, tc := range resizeCases {
		t.Run(tc.name, func(t *testing.T) {
			fresh, old, grown := resizeFixture(t, tc)
			orig := fresh().files["img.vhd"].written
			c := fresh()
			var steps []string
			if err := tc.run(journalTruncFS{truncFS{c}}, func(s string) { steps = append(steps, s) }); err != nil {
				t.Fatalf("uncut run: %v", err)
			}
			if moved := regexp.MustCompile(`(?m)^moved [1-9]`).MatchString(strings.Join(steps, "\n")); moved != tc.moves {
				t.Errorf("steps %q: blocks moved = %v, want %v", steps, moved, tc.moves)
			}
			n := c.writes
			if got := len(readImage(t, truncFS{c}, "img.vhd")); got != len(grown) {
				t.Fatalf("grown disk of %d bytes, want %d", got, len(grown))
			}
			judgeResized(t, c, tc, orig, old, grown, "uncut run")
			for k := range n {
				for _, tear := range []bool{false, true} {
					c := fresh()
					c.limit, c.tear = k, tear
					if err := tc.run(journalTruncFS{truncFS{c}}, nil); err == nil {
						t.Fatalf("cut after write %d of %d: Resize reported success", k, n)
					}
					for kind, s := range allSurvivors(c, k) {
						judgeResized(t, s, tc, orig, old, grown, fmt.Sprintf("cut after write %d of %d (torn=%v), %s", k, n, tear, kind))
					}
				}
			}
		})
	}
}

// allSurvivors adds to survivors the power cuts that keep random subsets
// of the unsynced writes (powerSubsets of them, seeded by seed).
func allSurvivors(c *crashFS, seed int) map[string]*crashFS {
	out := survivors(c)
	for i := range powerSubsets {
		rng := rand.New(rand.NewPCG(uint64(seed), uint64(i)))
		s := newCrashFS()
		for name, f := range c.files {
			b := f.powerLoss(func(int) bool { return rng.IntN(2) == 0 })
			s.files[name] = &memFile{fs: s, written: b, durable: bytes.Clone(b)}
		}
		out[fmt.Sprintf("power loss, random subset %d", i)] = s
	}
	return out
}

// judgeResized: the survivor s is the old image, or the grown one, or
// disabled and then reverted to the old file byte for byte.
func judgeResized(t *testing.T, s *crashFS, tc resizeCase, orig, old, grown []byte, what string) {
	t.Helper()
	fsys := truncFS{s}
	im, err := Open("img.vhd", OpenOptions{ReadOnly: true, FS: fsys})
	var de *DisabledError
	if errors.As(err, &de) {
		if de.Journal != resizeJournal {
			t.Fatalf("%s: disabled, naming journal %q; want %q", what, de.Journal, resizeJournal)
		}
		c := survivors(s)["kill -9"]
		if err := Revert("img.vhd", resizeJournal, journalTruncFS{truncFS{c}}); err != nil {
			t.Fatalf("%s: Revert: %v", what, err)
		}
		if !bytes.Equal(c.files["img.vhd"].written, orig) {
			t.Fatalf("%s, reverted: the file differs from the original", what)
		}
		if _, ok := c.files[resizeJournal]; ok {
			t.Fatalf("%s, reverted: journal left", what)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: Open: %v", what, err)
	}
	if w := im.Warnings(); len(w) > 0 {
		t.Errorf("%s: Open warned: %q", what, w)
	}
	size := im.Size()
	mustClose(t, im)
	problems, err := Check("img.vhd", CheckOptions{Parents: true, Bitmaps: true, Data: true, FS: fsys})
	if err != nil {
		t.Fatalf("%s: Check: %v", what, err)
	}
	for _, p := range problems {
		if tc.allow == "" || !strings.Contains(p.Msg, tc.allow) {
			t.Errorf("%s: Check: %v", what, p)
		}
	}
	got := readImage(t, fsys, "img.vhd")
	switch size {
	case int64(len(old)):
		if !bytes.Equal(got, old) {
			t.Fatalf("%s: the old size, not the old data", what)
		}
	case int64(len(grown)):
		if !bytes.Equal(got, grown) {
			t.Fatalf("%s: the new size, not the old data and zeros (first difference at %d)", what, firstDiff(got, grown))
		}
	default:
		t.Fatalf("%s: a disk of %d bytes", what, size)
	}
}
