package vhd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestPageCacheWriteAt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "img")
	if err := os.WriteFile(path, bytes.Repeat([]byte{0xee}, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := newPageCache(f)
	want := bytes.Repeat([]byte{0xee}, 8192)
	for _, w := range []struct {
		off  int64
		data []byte
	}{
		{0, []byte("first sector")},
		{4096 - 3, []byte("across a page")},  // one write, two pages
		{8192 - 5, []byte("grows")},          // to the file's end, exactly
		{8192 + 512, []byte("past the end")}, // a hole before it
	} {
		n, err := p.WriteAt(w.data, w.off)
		if err != nil || n != len(w.data) {
			t.Fatalf("WriteAt(%q, %d) = %d, %v", w.data, w.off, n, err)
		}
		if end := int(w.off) + len(w.data); end > len(want) {
			want = append(want, make([]byte, end-len(want))...)
		}
		copy(want[w.off:], w.data)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the file holds\n%q\nwant\n%q", got, want)
	}

	if _, err := p.WriteAt(nil, 0); err != nil {
		t.Fatalf("WriteAt(nil): %v", err)
	}
	if a := testing.AllocsPerRun(100, func() { p.WriteAt(want[:512], 0) }); a != 0 {
		t.Errorf("WriteAt: %v allocs; want 0", a)
	}
	p.Close()
	if _, err := p.WriteAt([]byte("x"), 0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("WriteAt after Close: %v, want os.ErrClosed", err)
	}
	if newPageCache(nil) != nil {
		t.Fatal("newPageCache(nil) is not nil")
	}
}
