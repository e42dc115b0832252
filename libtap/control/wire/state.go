package wire

import "strings"

// State is blktap's VBD state bit set; tap-ctl list prints it in hex.
type State uint32

const (
	Dead              State = 0x1
	Closed            State = 0x2
	QuiesceRequested  State = 0x4
	Quiesced          State = 0x8
	PauseRequested    State = 0x10
	Paused            State = 0x20
	ShutdownRequested State = 0x40
	Locking           State = 0x80
	LogDropped        State = 0x100
	ResumeFailed      State = 0x200
)

var stateNames = []struct {
	s    State
	name string
}{
	{Dead, "dead"}, {Closed, "closed"}, {QuiesceRequested, "quiesce-requested"},
	{Quiesced, "quiesced"}, {PauseRequested, "pause-requested"}, {Paused, "paused"},
	{ShutdownRequested, "shutdown-requested"}, {Locking, "locking"},
	{LogDropped, "log-dropped"}, {ResumeFailed, "resume-failed"},
}

// String names the set bits, "running" for none.
func (s State) String() string {
	var names []string
	for _, n := range stateNames {
		if s&n.s != 0 {
			names = append(names, n.name)
		}
	}
	if len(names) == 0 {
		return "running"
	}
	return strings.Join(names, "|")
}
