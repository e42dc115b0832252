package vhdtest

import (
	"bytes"
	"encoding/binary"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"unicode/utf16"
)

// Hostile images: VHDs made by the caller (with libvhd) and then patched,
// from the format's description as in oldtap.go, into what an attacker
// would hand a host: a child whose parent locators name a file outside
// its folder, a device, a FIFO; a block table putting blocks over the
// image's own metadata or over each other. Every tool must refuse them.

// HostileImage is one crafted image.
type HostileImage struct {
	Name string // what is crafted
	Path string // the image to open
	// Want is a phrase of the rule that refuses it, in Open's error and
	// in check's report alike.
	Want string
	// Locator: the refusal must also name the parent locator.
	Locator bool
	// WritesOnly: only writing it does harm (a block table over
	// metadata), so a read-only open may serve it, with a warning.
	WritesOnly bool
	// Secret is what the image would reach (nil if nothing outside
	// itself): no byte of it may ever be served.
	Secret []byte
}

// Creator makes a VHD with libvhd: a dynamic one of size bytes if parent
// is "", else a differencing child of parent (raw: a raw file, which
// gives the child a null parent UUID and the parent's size).
type Creator func(t testing.TB, path string, size int64, parent string, raw bool)

// HostileSize is the disk size of the hostile images.
const HostileSize = 8 << 20

// HostileImages crafts every hostile image in a fresh folder. Each
// child has a folder of its own, beside an "outside" folder holding the
// secret; they are made as children of a raw parent in their own folder
// and then pointed elsewhere. The device case needs root (losetup): left
// out without it, but in CI.
func HostileImages(t testing.TB, create Creator) []HostileImage {
	t.Helper()
	root := t.TempDir()
	secret := bytes.Repeat([]byte("SECRET!\n"), HostileSize/8)
	outside := filepath.Join(root, "outside")
	mkdir(t, outside)
	secretPath := filepath.Join(outside, "secret.img")
	writeFile(t, secretPath, secret)

	// child makes name/child.vhd over a raw base in its folder, then
	// points its locators at target.
	child := func(name, target string) string {
		dir := filepath.Join(root, name)
		mkdir(t, dir)
		base := filepath.Join(dir, "base.img")
		writeFile(t, base, make([]byte, HostileSize))
		path := filepath.Join(dir, "child.vhd")
		create(t, path, 0, base, true)
		if err := os.Remove(base); err != nil {
			t.Fatal(err)
		}
		SetLocators(t, path, target)
		return path
	}
	var out []HostileImage
	add := func(name, path, want string, locator bool, secret []byte) {
		out = append(out, HostileImage{Name: name, Path: path, Want: want, Locator: locator, Secret: secret})
	}
	notHere := "not in the child's folder"
	add("absolute raw parent", child("absolute", secretPath), notHere, true, secret)
	add("../ raw parent", child("dotdot", "../outside/secret.img"), notHere, true, secret)

	link := child("symlink", "./parent.img")
	if err := os.Symlink(secretPath, filepath.Join(filepath.Dir(link), "parent.img")); err != nil {
		t.Fatal(err)
	}
	add("symlinked raw parent", link, notHere, true, secret)

	fifo := child("fifo", "./parent.img")
	if err := syscall.Mkfifo(filepath.Join(filepath.Dir(fifo), "parent.img"), 0o600); err != nil {
		t.Fatal(err)
	}
	add("FIFO parent", fifo, "a FIFO is never a parent", true, nil)

	sock := child("socket", "./parent.img")
	l, err := net.Listen("unix", filepath.Join(filepath.Dir(sock), "parent.img"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	add("socket parent", sock, "a socket is never a parent", true, nil)

	small := child("small", "./parent.img")
	writeFile(t, filepath.Join(filepath.Dir(small), "parent.img"), secret[:HostileSize/2])
	add("raw parent smaller than the child", small, "must cover the child", true, nil)

	// A VHD child of a VHD parent whose parent UUID is cleared: the
	// parent's file would be served as a raw disk.
	nulled := filepath.Join(root, "nulluuid")
	mkdir(t, nulled)
	create(t, filepath.Join(nulled, "parent.vhd"), HostileSize, "", false)
	create(t, filepath.Join(nulled, "child.vhd"), 0, filepath.Join(nulled, "parent.vhd"), false)
	NullParentUUID(t, filepath.Join(nulled, "child.vhd"))
	add("null parent UUID over a VHD parent", filepath.Join(nulled, "child.vhd"), "must cover the child", true, nil)

	imgFIFO := filepath.Join(root, "image-fifo.vhd")
	if err := syscall.Mkfifo(imgFIFO, 0o600); err != nil {
		t.Fatal(err)
	}
	add("image is a FIFO", imgFIFO, "a FIFO", false, nil)

	out = append(out, hostileBATs(t, root, create)...)

	if os.Geteuid() != 0 {
		if InCI() {
			t.Fatal("the device parent needs root (losetup)")
		}
		t.Log("not root: no device parent (losetup needs root)")
		return out
	}
	add("device raw parent", child("device", LoopDevice(t, secretPath)), "a block device is a parent only in an allowed folder", true, secret)
	return out
}

// hostileBATs are dynamic images whose block table puts a block over the
// dynamic header, over the batmap, or two blocks over each other.
func hostileBATs(t testing.TB, root string, create Creator) []HostileImage {
	t.Helper()
	img := func(name string) (string, Layout) {
		path := filepath.Join(root, name+".vhd")
		create(t, path, HostileSize, "", false)
		// Room in the file for two blocks, so that only where they lie is
		// wrong.
		l := ReadLayout(t, path)
		Grow(t, path, 2*(l.BitmapLen+l.BlockSize))
		return path, ReadLayout(t, path)
	}
	header, _ := img("bat-over-header")
	SetBAT(t, header, 1, 1)
	batmap, l := img("bat-over-batmap")
	SetBAT(t, batmap, 1, uint32((l.TableOff+(4*int64(l.Entries)+511)/512*512)/512))
	overlap, l := img("bat-overlapping")
	first := uint32((int64(len(l.File)) - 512 - 2*(l.BitmapLen+l.BlockSize)) / 512)
	SetBAT(t, overlap, 0, first)
	SetBAT(t, overlap, 1, first+8)
	return []HostileImage{
		{Name: "block over the dynamic header", Path: header, Want: "overlaps the dynamic header", WritesOnly: true},
		{Name: "block over the batmap", Path: batmap, Want: "overlaps the batmap", WritesOnly: true},
		{Name: "blocks over each other", Path: overlap, Want: "overlaps block 0", WritesOnly: true},
	}
}

// SetLocators points every parent locator of the differencing image at
// path at target, encoded as its code wants (MacX a file URL, W2ku and
// W2ru a UTF-16LE Windows path), in the space each already has.
func SetLocators(t testing.TB, path, target string) {
	t.Helper()
	l := ReadLayout(t, path)
	be := binary.BigEndian
	hdrOff := be.Uint64(l.Footer[0x10:])
	h := l.File[hdrOff : hdrOff+1024]
	for i := range 8 {
		e := h[0x240+24*i:]
		var data []byte
		switch string(e[:4]) {
		case "MacX":
			data = []byte("file://" + target)
		case "W2ku", "W2ru":
			data = utf16le(strings.ReplaceAll(target, "/", `\`))
		default:
			continue
		}
		space := int(be.Uint32(e[4:]))
		if space < 512 {
			space *= 512
		}
		if len(data) > space {
			t.Fatalf("%s: locator %d: %q does not fit in %d bytes", path, i, target, space)
		}
		off := be.Uint64(e[16:])
		copy(l.File[off:off+uint64(space)], append(data, make([]byte, space-len(data))...))
		be.PutUint32(e[8:], uint32(len(data)))
	}
	be.PutUint32(h[0x24:], HeaderChecksum(h))
	writeFile(t, path, l.File)
}

// NullParentUUID clears a differencing image's parent UUID: blktap's
// mark of a raw parent.
func NullParentUUID(t testing.TB, path string) {
	t.Helper()
	l := ReadLayout(t, path)
	h := l.File[binary.BigEndian.Uint64(l.Footer[0x10:]):][:1024]
	clear(h[0x28:0x38])
	binary.BigEndian.PutUint32(h[0x24:], HeaderChecksum(h))
	writeFile(t, path, l.File)
}

// SetBAT sets BAT entry blk to sector.
func SetBAT(t testing.TB, path string, blk int, sector uint32) {
	t.Helper()
	l := ReadLayout(t, path)
	binary.BigEndian.PutUint32(l.File[l.TableOff+4*int64(blk):], sector)
	writeFile(t, path, l.File)
}

// Grow inserts n zero bytes before the EOF footer.
func Grow(t testing.TB, path string, n int64) {
	t.Helper()
	l := ReadLayout(t, path)
	end := len(l.File) - 512
	b := append(l.File[:end:end], make([]byte, n)...)
	writeFile(t, path, append(b, l.Footer...))
}

// HeaderChecksum is the checksum a 1024-byte dynamic header should
// carry, its checksum field (at 0x24) counted as zero.
func HeaderChecksum(h []byte) uint32 {
	var sum uint32
	for i, c := range h[:1024] {
		if i < 0x24 || i >= 0x28 {
			sum += uint32(c)
		}
	}
	return ^sum
}

// LoopDevice attaches file to a free loop device (root only), detached
// at the end of the test, and returns the device's path.
func LoopDevice(t testing.TB, file string) string {
	t.Helper()
	RequireTool(t, "losetup")
	out, err := exec.Command("losetup", "--find", "--show", file).CombinedOutput()
	if err != nil {
		t.Fatalf("losetup %s: %v: %s", file, err, out)
	}
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v: %s", dev, err, out)
		}
	})
	return dev
}

func utf16le(s string) []byte {
	var b []byte
	for _, c := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return b
}

func mkdir(t testing.TB, dir string) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
