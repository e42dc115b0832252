package main

import (
	"context"
	"strings"

	"github.com/charmbracelet/x/exp/golden"
	"testing"
	"time"

	"gotap.dev/libtap/control/wire"
)

func TestTrackerRates(t *testing.T) {
	tr := newTracker()
	polls := twoPolls()
	if rows := tr.apply(polls[0]); rows[0].Rate != (rate{}) {
		t.Errorf("first poll: rate %+v; want none", rows[0].Rate)
	}
	r := tr.apply(polls[1])[0]
	want := rate{ReadIOPS: 2000, WriteIOPS: 2000, ReadMiBs: 2000 * 4096.0 / mib, WriteMiBs: 2000 * 4096.0 / mib, P50US: 106.495, P99US: 106.495}
	if r.Rate != want {
		t.Errorf("rate = %+v; want %+v", r.Rate, want)
	}
}

func TestTrackerLiveness(t *testing.T) {
	tr := newTracker()
	alive := tapdisk{Pid: 7, VBDs: []wire.Info{{Minor: 0}}}
	steps := []struct {
		name string
		at   time.Duration
		tds  []tapdisk
		want string // the state of 7/0, "" for no row
	}{
		{"seen", 0, []tapdisk{alive}, "running"},
		{"not answering", time.Second, []tapdisk{{Pid: 7, Err: errNotAlive(row{})}}, "hung"},
		{"killed", 2 * time.Second, []tapdisk{{Pid: 7, Dead: true}}, "dead"},
		{"socket removed", 3 * time.Second, nil, "gone"},
		{"still shown", 3*time.Second + goneFor - 1, nil, "gone"},
		{"forgotten", 3*time.Second + goneFor, nil, ""},
	}
	for _, s := range steps {
		got := ""
		for _, r := range tr.apply(snapshot{At: t0.Add(s.at), Tapdisks: s.tds}) {
			if r.vbdID == (vbdID{7, 0}) {
				got = stateOf(r)
			}
		}
		if got != s.want {
			t.Errorf("%s: state = %q; want %q", s.name, got, s.want)
		}
	}
}

func TestOnce(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		name := map[bool]string{false: "table", true: "json"}[asJSON]
		t.Run(name, func(t *testing.T) {
			var out strings.Builder
			if err := once(context.Background(), &fakeSource{snaps: twoPolls()}, time.Millisecond, asJSON, &out); err != nil {
				t.Fatal(err)
			}
			golden.RequireEqual(t, []byte(out.String()))
		})
	}
}
