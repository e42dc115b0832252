package main

import (
	"context"
	"time"

	"gotap.dev/libtap/control/wire"
)

// source is where the figures come from: the tapdisks of a run directory
// (runDir), or a script of snapshots in tests. The model only ever sees
// snapshots, so it can be tested without a daemon.
type source interface {
	Poll(ctx context.Context) (snapshot, error)
}

// snapshot is one poll of every tapdisk.
type snapshot struct {
	At       time.Time
	Tapdisks []tapdisk
}

// tapdisk is one control socket as a poll found it (see package
// tapscan): its VBDs; or Dead, killed, with the minors it left sockets
// for; or Err, alive but not answering.
type tapdisk struct {
	Pid  int
	Dead bool
	VBDs []wire.Info
	Err  error
}
