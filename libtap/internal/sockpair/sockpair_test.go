package sockpair

import (
	"io"
	"testing"
)

// TestHalfClose: bytes go both ways, and closing one end's sending half
// ends the other's reading while the other way still works.
func TestHalfClose(t *testing.T) {
	a, b, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	defer b.Close()
	go func() {
		a.Write([]byte("ping"))
		a.CloseWrite()
	}()
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "ping" {
		t.Fatalf("b read %q, %v; want ping, then the end", got, err)
	}
	if _, err := b.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(a, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("a read %q, %v; want pong", buf, err)
	}
}
