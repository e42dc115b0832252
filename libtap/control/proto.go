package control

import (
	"encoding/json"
	"time"
)

// Version is the protocol version this package speaks (the "v" field).
const Version = 1

// MaxLine caps a request line: a longer one is refused and its
// connection closed, so a client cannot make the daemon buffer without
// bound.
const MaxLine = 64 << 10

// Operation names (the "op" field).
const (
	OpPid      = "pid"
	OpList     = "list"
	OpAttach   = "attach"
	OpOpen     = "open"
	OpPause    = "pause"
	OpResume   = "resume"
	OpClose    = "close"
	OpDetach   = "detach"
	OpStats    = "stats"
	OpWatch    = "watch"
	OpRate     = "set-rate"
	OpCoalesce = "coalesce"
)

// Header opens every request. ID is echoed verbatim in the reply, so a
// client may use any JSON value; V may be left out and means Version.
type Header struct {
	V  int             `json:"v,omitempty"`
	ID json.RawMessage `json:"id,omitempty"`
	Op string          `json:"op"`
}

func (h *Header) header() *Header { return h }

// request is anything a Client sends: every request type embeds Header.
type request interface{ header() *Header }

// MinorRequest names one minor (attach, pause, close, detach, stats).
type MinorRequest struct {
	Header
	Minor int `json:"minor"`
}

// OpenRequest opens an image on a minor and starts its NBD socket.
type OpenRequest struct {
	Header
	Minor    int    `json:"minor"`
	Image    string `json:"image"` // type:path
	ReadOnly bool   `json:"read_only,omitempty"`
	NoDirect bool   `json:"no_direct,omitempty"`
	// Timeout is the per-request timeout in seconds; 0: blktap's 120.
	Timeout int `json:"timeout,omitempty"`
	// Frontend is a kernel block device served beside the NBD socket:
	// FrontendNBD, FrontendUblk, or FrontendNone ("" too) for the socket
	// only.
	Frontend string `json:"frontend,omitempty"`
	// Device is the frontend's device to take (/dev/nbd3); "" lets the
	// kernel pick one. With Recover, the device a tapdisk that died left
	// waiting for its image: it gets new connections and goes on.
	Device  string `json:"device,omitempty"`
	Recover bool   `json:"recover,omitempty"`
}

// Frontends (OpenRequest.Frontend).
const (
	FrontendNone = "none"
	FrontendNBD  = "nbd"  // the kernel's NBD client: /dev/nbdN
	FrontendUblk = "ublk" // ublk_drv: /dev/ublkbN
)

// RequestTimeout is Timeout as a duration (0 if unset).
func (r OpenRequest) RequestTimeout() time.Duration { return time.Duration(r.Timeout) * time.Second }

// ResumeRequest resumes a paused minor, on a new image if Image is set.
type ResumeRequest struct {
	Header
	Minor int    `json:"minor"`
	Image string `json:"image,omitempty"`
}

// RateRequest changes the limits of a minor's valve layer, live. Limits
// are in the valve's option syntax ("rbps=40M,wiops=500,burst=2s"):
// the keys given change, the others keep their values, 0 removes a
// limit.
type RateRequest struct {
	Header
	Minor  int    `json:"minor"`
	Limits string `json:"limits"`
}

// CoalesceRequest merges layers Top..Base-1 of a minor's chain (0 is
// the leaf) into layer Base while the disk serves, then relinks the
// chain in one short pause. Top left out is 1, the leaf's parent; Base
// left out (0) is the chain's last image.
type CoalesceRequest struct {
	Header
	Minor int `json:"minor"`
	Top   int `json:"top,omitempty"`
	Base  int `json:"base,omitempty"`
}

// WatchRequest streams stats of one minor, or of all when Minor is -1 or
// left out.
type WatchRequest struct {
	Header
	Minor      int `json:"minor"`
	IntervalMS int `json:"interval_ms,omitempty"`
}

// Watch intervals: the default, and the shortest allowed (a shorter one
// would only burn CPU on both ends).
const (
	DefaultWatchInterval = time.Second
	MinWatchInterval     = 10 * time.Millisecond
)

// PidReply is the result of pid.
type PidReply struct {
	Pid int `json:"pid"`
}

// OpenReply is the result of open: where the disk is served.
type OpenReply struct {
	Minor  int    `json:"minor"`
	Socket string `json:"nbd_socket"`
	URI    string `json:"uri"`
	// Device is the frontend's block device, if one was asked for.
	Device string `json:"device,omitempty"`
}

// Reply answers one request (and is each line of a watch).
type Reply struct {
	V      int             `json:"v"`
	ID     json.RawMessage `json:"id,omitempty"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result,omitempty"`
	Errno  string          `json:"errno,omitempty"`
	Error  string          `json:"error,omitempty"`
}
