package libvhd

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf16"
)

// maxLocatorData bounds how much locator data is read: a path, not a blob.
const maxLocatorData = 64 << 10

// readLocatorData reads l's data, which must lie within the file's
// fileSize bytes and be no longer than maxLocatorData: the header's
// offset and length are the image's word, not a size to allocate.
func readLocatorData(f File, fileSize int64, l Locator) ([]byte, error) {
	if l.DataLen > maxLocatorData {
		return nil, fmt.Errorf("%d bytes of locator data: more than a path takes", l.DataLen)
	}
	if l.DataOffset > uint64(fileSize) || int64(l.DataOffset)+int64(l.DataLen) > fileSize {
		return nil, fmt.Errorf("locator data at %#x+%d lies past the end of the file", l.DataOffset, l.DataLen)
	}
	data := make([]byte, l.DataLen)
	if err := readFull(f, data, int64(l.DataOffset)); err != nil {
		return nil, fmt.Errorf("read locator data: %w", err)
	}
	return data, nil
}

// decodeLocator turns a locator's raw data into a slash-separated path.
// It reports whether the path is relative to the child's folder, and
// ok=false for codes that hold no usable path (e.g. Mac alias blobs).
//
// MacX holds a UTF-8 file URL ("file://./parent.vhd"); W2ru/W2ku hold a
// UTF-16LE Windows path (".\parent.vhd"); the deprecated Wi2r/Wi2k hold
// the same in single bytes.
func decodeLocator(code uint32, data []byte) (path string, relative, ok bool) {
	switch code {
	case LocatorMacX:
		p := strings.TrimRight(string(data), "\x00")
		p = strings.TrimPrefix(p, "file://")
		if p == "" {
			return "", false, false
		}
		return p, !strings.HasPrefix(p, "/"), true
	case LocatorW2ru, LocatorW2ku:
		u := make([]uint16, 0, len(data)/2)
		for i := 0; i+1 < len(data); i += 2 {
			c := binary.LittleEndian.Uint16(data[i:])
			if c == 0 {
				break
			}
			u = append(u, c)
		}
		return windowsPath(string(utf16.Decode(u)), code == LocatorW2ru)
	case LocatorWi2r, LocatorWi2k:
		return windowsPath(strings.TrimRight(string(data), "\x00"), code == LocatorWi2r)
	}
	return "", false, false
}

// windowsPath converts `.\dir\parent.vhd` or `C:\dir\parent.vhd`.
// A drive-letter path cannot be resolved here; it is still returned so the
// caller can fall back to its base name.
func windowsPath(p string, relativeCode bool) (string, bool, bool) {
	if p == "" {
		return "", false, false
	}
	p = strings.ReplaceAll(p, `\`, "/")
	relative := relativeCode && !strings.HasPrefix(p, "/") && !(len(p) > 1 && p[1] == ':')
	return p, relative, true
}

// locatorPayloads encodes rel (the parent's path relative to the child's
// folder, slash-separated) the way blktap writes it: MacX, W2ku and W2ru,
// all relative.
func locatorPayloads(rel string) []struct {
	code uint32
	data []byte
} {
	if !strings.HasPrefix(rel, "../") && !strings.HasPrefix(rel, "./") {
		rel = "./" + rel
	}
	win := utf16le(strings.ReplaceAll(filepath.ToSlash(rel), "/", `\`))
	return []struct {
		code uint32
		data []byte
	}{
		{LocatorMacX, []byte("file://" + rel)},
		{LocatorW2ku, win},
		{LocatorW2ru, win},
	}
}

func utf16le(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b
}
