package vhd

import (
	"log/slog"
	"time"

	"gotap.dev/libvhd"
)

// flusher flushes an image every interval, as a file system commits its
// journal: a guest that never flushes still has its data durable within
// an interval. A flush with nothing written since the last is a no-op in
// libvhd, so an idle disk costs a timer wake-up, not a sync.
type flusher struct {
	done chan struct{}
	exit chan struct{}
}

func startFlusher(im *libvhd.Image, every time.Duration) *flusher {
	f := &flusher{done: make(chan struct{}), exit: make(chan struct{})}
	go func() {
		defer close(f.exit)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-f.done:
				return
			case <-t.C:
				// A failure here is the next client flush's to report
				// (libvhd keeps the data dirty); the log says it first.
				if err := im.Flush(); err != nil {
					slog.Warn("periodic flush failed", "image", im.Path(), "err", err)
				}
			}
		}
	}()
	return f
}

// stop ends the flusher and waits for a flush in progress.
func (f *flusher) stop() {
	close(f.done)
	<-f.exit
}
