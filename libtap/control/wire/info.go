// Package wire holds the types the control protocol (package control)
// carries about a VBD: what `list`, `stats` and `watch` report, blktap's
// state bits and their names, and the errors a VBD remembers. The engine
// (package vbd) fills them in; the control client and the command-line
// tools read them. It imports nothing of the engine, so the tools link
// no driver, scheduler or ring. Its JSON field names and state bits are
// part of the protocol: never change them.
package wire

import (
	"time"

	"gotap.dev/libtap/stats"
)

// Info is what the control protocol reports about a VBD.
type Info struct {
	Minor     int    `json:"minor"`
	Image     string `json:"image"` // type:path
	State     State  `json:"state"`
	StateName string `json:"state_name"`
	Size      int64  `json:"size"`
	ReadOnly  bool   `json:"read_only"`
	Direct    bool   `json:"direct"`
	// Engine: how the driver reaches the kernel, where it has a choice
	// (aio: io_uring, or syscalls where io_uring is unavailable).
	Engine    string         `json:"engine,omitempty"`
	RingSlots int            `json:"ring_slots"`
	RingInUse int            `json:"ring_in_use"`
	Uptime    float64        `json:"uptime_s"`
	Stats     stats.Snapshot `json:"stats"`
	Errors    []ErrorRecord  `json:"recent_errors,omitempty"`
	// Valve: the limits of the chain's valve layer, if it has one, and
	// how long they held requests back.
	Valve *stats.Valve `json:"valve,omitempty"`
	// Coalescing: how far the coalesce running on the chain has got.
	Coalescing *Progress `json:"coalescing,omitempty"`
	// Chain is the images served, with their request counts.
	Chain []Image `json:"chain,omitempty"`
	// Device: the kernel block device serving the VBD (/dev/nbd0), if
	// its open asked for one (OpenRequest.Frontend).
	Device string `json:"device,omitempty"`
}

// Unserved is the Info of a minor that serves no image (attached but
// closed, or left by a tapdisk that died): its number and state only.
func Unserved(minor int, s State) Info {
	return Info{Minor: minor, State: s, StateName: s.String()}
}

// ErrorRecord is one remembered error.
type ErrorRecord struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
}

// Image is one image of a VBD's chain, leaf first, with blktap's request
// counts (what tap-ctl stats reports as images[].hits and fail): the
// requests that reached it, and those that failed there, [read, write].
// A read reaches each parent once per run the images above it do not
// hold; a write only the leaf.
type Image struct {
	Path   string    `json:"path"`
	Driver string    `json:"driver"` // vhd, or aio for a raw file (blktap's names)
	Hits   [2]uint64 `json:"hits"`
	Fail   [2]uint64 `json:"fail"`
}
