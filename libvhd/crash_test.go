package libvhd

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// Crash injection: every operation below is cut short after each single
// write call, and the files that survive are judged:
//   - kill -9: every completed write survives, the last one optionally
//     torn (only its leading whole sectors land);
//   - power loss: the synced bytes plus none, all, or random subsets of
//     the writes since the last sync.
//
// Every surviving file must pass Check and open without warnings; every
// sector reads its old or its new bytes (or, after a power cut with
// metadata written through, zeros: see flush.go); once the operation's
// Flush has returned, the new ones; and with metadata written through,
// a kill -9 survivor holds the new ones once WriteAt has returned.

// Small blocks keep each of the thousands of crash images small; the
// logic is the same for every block size.
const (
	crashBlock    = 64 << 10
	crashDiskSize = 16 * crashBlock
	powerSubsets  = 6
)

type crashOp struct {
	name string
	off  int64
	len  int
	// close: the operation ends with Close, which writes the batmap. That
	// write (header and map, two sectors of one page) is not torn: a
	// process crash cannot split it, and blktap has the same window on
	// disks with 512-byte physical sectors.
	close bool
}

var crashOps = []crashOp{
	{"allocate block", 2*crashBlock + 12<<10, 8 << 10, false},
	{"allocate two blocks", 4*crashBlock - 4<<10, 12 << 10, false},
	{"partial write into allocated block", 20 << 10, 4 << 10, false},
	{"unaligned write allocating a block", 6*crashBlock + 700, 1000, false},
	{"write filling a block", 0, crashBlock, false},
	{"write across four blocks", 8*crashBlock + 512, 3 * crashBlock, false},
	{"fill a block, close (batmap)", 5 * crashBlock, crashBlock, true},
}

// crashMode is the image kind, OpenOptions.DeferMetadata, and whether
// the images live on block devices (LVHD: blockdev.go).
type crashMode struct{ diff, deferMeta, device bool }

func (m crashMode) String() string {
	s := "dynamic"
	if m.diff {
		s = "differencing"
	}
	if m.deferMeta {
		s += ", deferred metadata"
	}
	if m.device {
		s += ", on a block device"
	}
	return s
}

// crashDeviceSize holds every block of the crash disk with room to spare.
const crashDeviceSize = 2 * crashDiskSize

func TestCrashInjection(t *testing.T) {
	for _, m := range []crashMode{{false, false, false}, {true, false, false}, {false, true, false}, {true, true, false}, {false, false, true}, {true, false, true}} {
		for _, op := range crashOps {
			t.Run(fmt.Sprintf("%s (%v)", op.name, m), func(t *testing.T) { crashAtEveryWrite(t, op, m) })
		}
	}
}

// crashRun is one run of the scenario on a fresh file system, crashing
// after limit writes into the operation (-1: never).
type crashRun struct {
	fs        *crashFS
	old, new  []byte // the disk as flushed before the operation, and after it
	acked     bool   // the operation's WriteAt returned nil
	completed bool   // the operation's write and Flush both returned nil
	opWrites  int    // write calls the operation made
}

func fillPattern(b []byte, seed byte) {
	for i := range b {
		b[i] = seed + byte(i/SectorSize)
	}
}

func runCrashScenario(t *testing.T, op crashOp, m crashMode, limit int, tear bool) crashRun {
	t.Helper()
	c := newCrashFS()
	if m.device {
		c.addDevice("base.vhd", crashDeviceSize)
		c.addDevice("child.vhd", crashDeviceSize)
	}
	model := make([]byte, crashDiskSize)
	opts := CreateOptions{Type: Dynamic, Size: crashDiskSize, BlockSize: crashBlock, FS: c}
	im, err := Create("base.vhd", opts)
	if err != nil {
		t.Fatal(err)
	}
	if m.diff {
		// The parent holds data everywhere, so clear bits in the child
		// must read the parent's bytes, not zeros.
		fillPattern(model, 0x40)
		mustWrite(t, im, model, 0)
		if err := im.Close(); err != nil {
			t.Fatal(err)
		}
		opts.Parent = "base.vhd"
		if im, err = Create("child.vhd", opts); err != nil {
			t.Fatal(err)
		}
	}
	if m.deferMeta {
		im.Close()
		if im, err = Open(im.Path(), OpenOptions{FS: c, DeferMetadata: true}); err != nil {
			t.Fatal(err)
		}
	}
	// Block 0 allocated and partly written, then flushed: the "before".
	first := make([]byte, 16<<10)
	fillPattern(first, 0x10)
	mustWrite(t, im, first, 0)
	copy(model, first)
	if err := im.Flush(); err != nil {
		t.Fatal(err)
	}

	r := crashRun{fs: c, old: bytes.Clone(model)}
	data := make([]byte, op.len)
	fillPattern(data, 0xA0)
	copy(model[op.off:], data)
	r.new = model

	start := c.writes
	if limit >= 0 {
		c.limit, c.tear = start+limit, tear
	}
	_, werr := im.WriteAt(data, op.off)
	ferr := im.Flush()
	var cerr error
	if op.close {
		cerr = im.Close()
	}
	r.acked = werr == nil
	r.completed = werr == nil && ferr == nil && cerr == nil
	r.opWrites = c.writes - start
	return r
}

func mustWrite(t testing.TB, im *Image, p []byte, off int64) {
	t.Helper()
	if _, err := im.WriteAt(p, off); err != nil {
		t.Fatal(err)
	}
}

func crashAtEveryWrite(t *testing.T, op crashOp, m crashMode) {
	full := runCrashScenario(t, op, m, -1, false)
	if !full.completed || full.opWrites < 2 {
		t.Fatalf("uncrashed run: completed=%v after %d write calls", full.completed, full.opWrites)
	}
	checkSurvivors(t, full, m, "after the operation")
	for k := 0; k <= full.opWrites; k++ {
		for _, tear := range []bool{false, true} {
			if tear && op.close && k == full.opWrites {
				continue // the batmap write, see crashOp.close
			}
			r := runCrashScenario(t, op, m, k, tear)
			what := fmt.Sprintf("crash after write %d of %d (torn=%v)", k, full.opWrites, tear)
			if r.completed {
				t.Fatalf("%s: the operation reported success", what)
			}
			checkSurvivors(t, r, m, what)
		}
	}
}

// checkSurvivors judges the kill -9 survivor and several power-loss ones.
func checkSurvivors(t *testing.T, r crashRun, m crashMode, what string) {
	t.Helper()
	judge := func(kind string, processCrash bool, pick func(*memFile) []byte) {
		t.Helper()
		fs := newCrashFS()
		for name, f := range r.fs.files {
			fs.files[name] = &memFile{fs: fs, device: f.device, written: pick(f)}
		}
		want := verdict{
			// Written through: an acknowledged write is in the file.
			newOnly: r.completed || (processCrash && r.acked && !m.deferMeta),
			// Written through: a bit may reach the disk before its data.
			zerosOK: !processCrash && !m.deferMeta,
		}
		judgeCrashImage(t, fs, m.diff, r, want, what+", "+kind)
	}
	judge("kill -9", true, func(f *memFile) []byte { return bytes.Clone(f.written) })
	judge("power loss, no unsynced write kept", false, func(f *memFile) []byte { return f.powerLoss(func(int) bool { return false }) })
	judge("power loss, every unsynced write kept", false, func(f *memFile) []byte { return f.powerLoss(func(int) bool { return true }) })
	for i := range powerSubsets {
		rng := rand.New(rand.NewPCG(uint64(i), uint64(len(what))))
		judge(fmt.Sprintf("power loss, random subset %d", i), false, func(f *memFile) []byte {
			return f.powerLoss(func(int) bool { return rng.IntN(2) == 0 })
		})
	}
}

// verdict is what each sector of a survivor may read besides its new
// bytes.
type verdict struct {
	newOnly bool // nothing else
	zerosOK bool // zeros, where the operation wrote
}

func judgeCrashImage(t *testing.T, fs *crashFS, diff bool, r crashRun, want verdict, what string) {
	t.Helper()
	path := "base.vhd"
	if diff {
		path = "child.vhd"
	}
	problems, err := Check(path, CheckOptions{Parents: true, Bitmaps: true, FS: fs})
	if err != nil {
		t.Fatalf("%s: Check: %v", what, err)
	}
	for _, p := range problems {
		t.Errorf("%s: Check: %v", what, p)
	}
	im, err := Open(path, OpenOptions{ReadOnly: true, FS: fs})
	if err != nil {
		t.Fatalf("%s: Open: %v", what, err)
	}
	defer im.Close()
	if w := im.Warnings(); len(w) > 0 {
		t.Errorf("%s: Open warned: %q", what, w)
	}
	got := make([]byte, crashDiskSize)
	if _, err := im.ReadAt(got, 0); err != nil {
		t.Fatalf("%s: ReadAt: %v", what, err)
	}
	for s := 0; s < crashDiskSize; s += SectorSize {
		g, o, n := got[s:s+SectorSize], r.old[s:s+SectorSize], r.new[s:s+SectorSize]
		switch {
		case bytes.Equal(g, n):
		case want.newOnly:
			t.Fatalf("%s: sector %d lost an acknowledged write", what, s/SectorSize)
		case bytes.Equal(g, o):
		case want.zerosOK && !bytes.Equal(o, n) && isZero(g):
		default:
			t.Fatalf("%s: sector %d holds neither its old nor its new bytes", what, s/SectorSize)
		}
	}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
