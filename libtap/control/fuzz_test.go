package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/internal/sockpair"
)

// fuzzTimeout bounds one input's session: the server must have answered
// and hung up by then, or it hangs.
const fuzzTimeout = 10 * time.Second

// FuzzServe feeds any bytes to the server as one connection's requests,
// over a socket pair, with the fake handler behind it; seeds are what
// our Client sends. Every line that is not blank gets exactly one reply,
// in order, echoing its id, well formed (v 1; ok, or an errno Linux
// knows and a message), until a line too long (EMSGSIZE, then the
// server hangs up) or a watch (which takes the connection over); the
// handler sees only requests the server checked.
func FuzzServe(f *testing.F) {
	sent := recordClient(f)
	for _, s := range sent {
		f.Add(s)
	}
	f.Add(bytes.Join(sent, nil)) // requests, then a watch
	f.Fuzz(func(t *testing.T, data []byte) {
		client, server, err := sockpair.New()
		if err != nil {
			t.Fatal(err)
		}
		defer client.Close()
		client.SetDeadline(time.Now().Add(fuzzTimeout))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		served := make(chan struct{})
		go func() {
			defer close(served)
			defer server.Close()
			NewServer(checkedHandler{t, newFake()}, Options{Log: quietLog}).serveConn(ctx, server)
		}()
		go func() {
			client.Write(data)
			client.CloseWrite()
		}()
		r := bufio.NewReader(client)
		if checkLines(t, r, data) {
			cancel() // a watch goes on until the server stops
		}
		if n, err := io.Copy(io.Discard, r); err != nil {
			t.Fatalf("after %d more bytes: %v (the server did not hang up)", n, err)
		}
		select {
		case <-served:
		case <-time.After(fuzzTimeout):
			t.Fatal("the connection's goroutine still runs after it hung up")
		}
	})
}

// checkLines reads the replies to data's lines, split as the protocol
// does, and judges each; true if a watch took the connection over.
// Replies after the last expected one are the caller's to rule on.
func checkLines(t *testing.T, r *bufio.Reader, data []byte) (watching bool) {
	t.Helper()
	for line := range bytes.Lines(data) {
		if len(line) > MaxLine+1 { // +1: the newline
			if rep := nextReply(t, r); rep.Errno != "EMSGSIZE" {
				t.Fatalf("a line of %d bytes: reply %+v; want EMSGSIZE", len(line), rep)
			}
			mustHangUp(t, r)
			return false
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		rep := nextReply(t, r)
		var h Header
		if json.Unmarshal(line, &h) == nil && !sameJSON(rep.ID, h.ID) {
			t.Fatalf("request %q: reply id %s; want %s", line, rep.ID, h.ID)
		}
		if h.Op != OpWatch || (h.V != 0 && h.V != Version) {
			continue
		}
		if _, err := decodeRequest(line, WatchRequest{Minor: -1}); err != nil {
			continue // refused at once: the connection goes on
		}
		if !rep.OK {
			mustHangUp(t, r) // its minor is gone
			return false
		}
		return true
	}
	mustHangUp(t, r)
	return false
}

// nextReply reads one reply line, which must be well formed.
func nextReply(t *testing.T, r *bufio.Reader) Reply {
	t.Helper()
	line, err := r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading a reply: %v (after %q)", err, line)
	}
	var rep Reply
	if err := json.Unmarshal(line, &rep); err != nil {
		t.Fatalf("reply %q: %v", line, err)
	}
	_, known := disk.ErrnoByName(rep.Errno)
	switch {
	case rep.V != Version:
		t.Fatalf("reply %q: version %d", line, rep.V)
	case rep.OK && (rep.Errno != "" || rep.Error != ""):
		t.Fatalf("reply %q: ok with an error", line)
	case !rep.OK && (!known || rep.Error == "" || rep.Result != nil):
		t.Fatalf("reply %q: failed without an errno Linux knows and a message, or with a result", line)
	}
	return rep
}

// mustHangUp checks that nothing more comes: the server hangs up.
func mustHangUp(t *testing.T, r *bufio.Reader) {
	t.Helper()
	if line, err := r.ReadBytes('\n'); err != io.EOF || len(line) > 0 {
		t.Fatalf("after the last reply: %q, %v; want the server to hang up", line, err)
	}
}

// sameJSON reports whether two JSON values are the same text, compacted
// (the server re-encodes the id it echoes); absent is absent.
func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}
