package control

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"gotap.dev/libtap/control/controltest"
)

func TestMain(m *testing.M) { controltest.Main(m) }

// rawConn is a raw connection: the protocol as a shell speaks it.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialWire(t *testing.T, path string) *rawConn {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t, c, bufio.NewReader(c)}
}

// ask sends one line and returns the reply line.
func (w *rawConn) ask(line string) string {
	w.t.Helper()
	if _, err := w.c.Write([]byte(line + "\n")); err != nil {
		w.t.Fatalf("send %q: %v", line, err)
	}
	return w.reply()
}

func (w *rawConn) reply() string {
	w.t.Helper()
	rep, err := w.r.ReadString('\n')
	if err != nil {
		w.t.Fatalf("read reply: %v", err)
	}
	return strings.TrimSpace(rep)
}

// TestWire runs a session over one connection: each line's reply must
// contain every one of want (exact JSON fragments).
func TestWire(t *testing.T) {
	w := dialWire(t, serve(t, newFake(), t.TempDir()))
	pid := strconv.Itoa(os.Getpid())
	steps := []struct {
		name, line string
		want       []string
	}{
		{"pid without v or id", `{"op":"pid"}`, []string{`"v":1`, `"ok":true`, `"result":{"pid":` + pid + `}`}},
		{"empty list", `{"v":1,"id":1,"op":"list"}`, []string{`"id":1`, `"ok":true`, `"result":[]`}},
		{"attach", `{"v":1,"id":"a","op":"attach","minor":0}`, []string{`"id":"a"`, `"ok":true`}},
		{"attach twice", `{"v":1,"id":2,"op":"attach","minor":0}`, []string{`"ok":false`, `"errno":"EEXIST"`}},
		{"open", `{"v":1,"id":3,"op":"open","minor":0,"image":"ram:1M","read_only":true,"timeout":5}`,
			[]string{`"ok":true`, `"uri":"nbd+unix:///?socket=/nbd"`, `"nbd_socket":"/nbd"`}},
		{"open again", `{"v":1,"id":4,"op":"open","minor":0,"image":"ram:1M"}`, []string{`"errno":"EBUSY"`}},
		{"list", `{"v":1,"id":5,"op":"list"}`, []string{`"minor":0`, `"image":"ram:1M"`, `"read_only":true`}},
		{"pause", `{"v":1,"id":6,"op":"pause","minor":0}`, []string{`"ok":true`}},
		{"stats paused", `{"v":1,"id":7,"op":"stats","minor":0}`, []string{`"state":32`}},
		{"set-rate", `{"v":1,"id":"r","op":"set-rate","minor":0,"limits":"rbps=20971520"}`, []string{`"id":"r"`, `"ok":true`, `"result":{"rbps":20971520,`}},
		{"stats shows the valve", `{"op":"stats","minor":0}`, []string{`"valve":{"rbps":20971520,`}},
		{"set-rate bad limits", `{"op":"set-rate","minor":0,"limits":"fast"}`, []string{`"errno":"EINVAL"`}},
		{"set-rate without minor", `{"op":"set-rate","limits":"rbps=1"}`, []string{`"errno":"EINVAL"`, `minor -1`}},
		{"resume other size", `{"v":1,"id":8,"op":"resume","minor":0,"image":"ram:2M"}`, []string{`"errno":"EMEDIUMTYPE"`}},
		{"resume", `{"v":1,"id":9,"op":"resume","minor":0}`, []string{`"ok":true`}},
		{"coalesce", `{"op":"coalesce","minor":0}`, []string{`"ok":true`, `"result":{"sectors":8,"merged":["layer1"],"paused_ns":0}`}},
		{"coalesce top and base", `{"op":"coalesce","minor":0,"top":2,"base":5}`, []string{`"merged":["layer2"]`}},
		{"coalesce the leaf", `{"op":"coalesce","minor":0,"top":0}`, []string{`"errno":"EINVAL"`, `top 0`}},
		{"coalesce base above top", `{"op":"coalesce","minor":0,"top":3,"base":2}`, []string{`"errno":"EINVAL"`}},
		{"detach open", `{"v":1,"id":10,"op":"detach","minor":0}`, []string{`"errno":"EBUSY"`}},
		{"close", `{"v":1,"id":11,"op":"close","minor":0}`, []string{`"ok":true`}},
		{"stats closed", `{"v":1,"id":12,"op":"stats","minor":0}`, []string{`"state":2`}},
		{"detach", `{"v":1,"id":13,"op":"detach","minor":0}`, []string{`"ok":true`}},
		{"stats detached", `{"v":1,"id":14,"op":"stats","minor":0}`, []string{`"errno":"ENOENT"`, `"error":"minor 0 is not attached"`}},

		{"malformed JSON", `{"op":`, []string{`"ok":false`, `"errno":"EINVAL"`, `malformed request`}},
		{"not an object", `[1,2]`, []string{`"errno":"EINVAL"`}},
		{"unknown op", `{"v":1,"id":20,"op":"frobnicate"}`, []string{`"id":20`, `"errno":"ENOSYS"`, `unknown op`}},
		{"missing op", `{"v":1,"id":21}`, []string{`"id":21`, `"errno":"EINVAL"`}},
		{"unknown field", `{"v":1,"id":22,"op":"pause","minor":0,"force":true}`, []string{`"id":22`, `"errno":"EINVAL"`, `unknown field \"force\"`}},
		{"field of another op", `{"op":"pid","minor":0}`, []string{`"errno":"EINVAL"`, `unknown field \"minor\"`}},
		{"wrong type", `{"op":"pause","minor":"0"}`, []string{`"errno":"EINVAL"`}},
		{"missing minor", `{"op":"pause"}`, []string{`"errno":"EINVAL"`, `minor -1`}},
		{"minor out of range", `{"op":"attach","minor":16384}`, []string{`"errno":"EINVAL"`}},
		{"bad image", `{"op":"open","minor":1,"image":"qcow:/x"}`, []string{`"errno":"EINVAL"`, `unknown type`}},
		{"bad image under a filter", `{"op":"open","minor":1,"image":"valve:rbps=1M:qcow:/x"}`, []string{`"errno":"EINVAL"`, `under its filters`}},
		{"negative timeout", `{"op":"open","minor":1,"image":"ram:1M","timeout":-1}`, []string{`"errno":"EINVAL"`}},
		{"trailing data", `{"op":"pid"} {"op":"pid"}`, []string{`"errno":"EINVAL"`}},
		{"future version", `{"v":2,"id":23,"op":"pid"}`, []string{`"id":23`, `"errno":"EPROTONOSUPPORT"`}},
		{"watch bad interval", `{"op":"watch","interval_ms":1}`, []string{`"errno":"EINVAL"`}},
		{"still serving", `{"op":"pid"}`, []string{`"ok":true`}},
	}
	for _, s := range steps {
		got := w.ask(s.line)
		for _, frag := range s.want {
			if !strings.Contains(got, frag) {
				t.Errorf("%s: %s\n  got  %s\n  want %s", s.name, s.line, got, frag)
			}
		}
	}
}

func TestBlankLinesAreIgnored(t *testing.T) {
	w := dialWire(t, serve(t, newFake(), t.TempDir()))
	if got := w.ask("\n  \n" + `{"op":"pid"}`); !strings.Contains(got, `"ok":true`) {
		t.Errorf("pid after blank lines = %s", got)
	}
}

func TestOversizedLineClosesOnlyThatConnection(t *testing.T) {
	path := serve(t, newFake(), t.TempDir())
	w := dialWire(t, path)
	huge := `{"op":"pid","pad":"` + strings.Repeat("x", MaxLine) + `"}`
	got := w.ask(huge)
	if !strings.Contains(got, `"errno":"EMSGSIZE"`) {
		t.Errorf("oversized line: reply %s; want EMSGSIZE", got)
	}
	if _, err := w.r.ReadString('\n'); err == nil {
		t.Error("connection still open after an oversized line")
	}
	// A line of exactly MaxLine bytes is still served.
	pad := MaxLine - len(`{"op":"pid"}`)
	if got := dialWire(t, path).ask(strings.Repeat(" ", pad) + `{"op":"pid"}`); !strings.Contains(got, `"ok":true`) {
		t.Errorf("line of MaxLine bytes: %.200s", got)
	}
}

func TestWatchStreamsUntilClientCloses(t *testing.T) {
	f := newFake()
	path := serve(t, f, t.TempDir())
	w := dialWire(t, path)
	w.ask(`{"op":"open","minor":3,"image":"ram:1M"}`)
	if _, err := w.c.Write([]byte(`{"id":7,"op":"watch","minor":3,"interval_ms":10}` + "\n")); err != nil {
		t.Fatal(err)
	}
	var reads []uint64
	for range 3 {
		var rep struct {
			Reply
			Infos []struct {
				Minor int
				Stats struct{ Reads uint64 }
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(w.reply()), &rep); err != nil || !rep.OK || string(rep.ID) != "7" || len(rep.Infos) != 1 {
			t.Fatalf("watch line: %+v, %v", rep, err)
		}
		reads = append(reads, rep.Infos[0].Stats.Reads)
	}
	if reads[2] <= reads[0] {
		t.Errorf("watch lines = %v; want figures that move", reads)
	}
	w.c.Close()
	// The server noticed and still serves others.
	if got := dialWire(t, path).ask(`{"op":"detach","minor":9}`); !strings.Contains(got, `"errno":"ENOENT"`) {
		t.Errorf("after a watch: %s", got)
	}
}
