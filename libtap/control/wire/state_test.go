package wire

import (
	"encoding/json"
	"testing"
)

func TestStateString(t *testing.T) {
	for _, tc := range []struct {
		s    State
		want string
	}{
		{0, "running"},
		{Dead, "dead"},
		{Closed, "closed"},
		{Paused | ResumeFailed, "paused|resume-failed"},
		{PauseRequested | ShutdownRequested, "pause-requested|shutdown-requested"},
		{Quiesced | QuiesceRequested | Locking | LogDropped, "quiesce-requested|quiesced|locking|log-dropped"},
	} {
		if got := tc.s.String(); got != tc.want {
			t.Errorf("State(%#x).String() = %q; want %q", uint32(tc.s), got, tc.want)
		}
	}
}

// TestUnserved: a minor without an image reports its number, its state
// as bits and as a name, and nothing else.
func TestUnserved(t *testing.T) {
	for _, tc := range []struct {
		minor int
		s     State
		want  string
	}{
		{3, Closed, `{"minor":3,"image":"","state":2,"state_name":"closed"`},
		{0, Dead, `{"minor":0,"image":"","state":1,"state_name":"dead"`},
	} {
		b, err := json.Marshal(Unserved(tc.minor, tc.s))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(b[:len(tc.want)]); got != tc.want {
			t.Errorf("Unserved(%d, %v) = %s; want it to begin %s", tc.minor, tc.s, b, tc.want)
		}
	}
}
