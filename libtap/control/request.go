package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"syscall"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/rundir"
)

// checker is a request that can validate its own fields, so that a
// Handler only ever sees well-formed requests.
type checker interface{ check() error }

func (h *Header) check() error { return nil }

func (r *MinorRequest) check() error { return checkMinor(r.Minor) }

func (r *OpenRequest) check() error {
	if err := checkMinor(r.Minor); err != nil {
		return err
	}
	if r.Timeout < 0 {
		return Errorf(syscall.EINVAL, "timeout %d: want seconds ≥ 0", r.Timeout)
	}
	return checkImage(r.Image)
}

func (r *ResumeRequest) check() error {
	if err := checkMinor(r.Minor); err != nil {
		return err
	}
	if r.Image == "" {
		return nil
	}
	return checkImage(r.Image)
}

func (r *RateRequest) check() error { return checkMinor(r.Minor) }

func (r *CoalesceRequest) check() error {
	if err := checkMinor(r.Minor); err != nil {
		return err
	}
	if r.Top < 1 || (r.Base != 0 && r.Base <= r.Top) {
		return Errorf(syscall.EINVAL, "top %d, base %d: want 1 ≤ top < base (base 0: the last image)", r.Top, r.Base)
	}
	return nil
}

func (r *WatchRequest) check() error {
	if r.Minor != -1 {
		if err := checkMinor(r.Minor); err != nil {
			return err
		}
	}
	if r.IntervalMS != 0 && r.interval() < MinWatchInterval {
		return Errorf(syscall.EINVAL, "interval_ms %d: want at least %d", r.IntervalMS, MinWatchInterval.Milliseconds())
	}
	return nil
}

func checkMinor(m int) error {
	if m < 0 || m >= rundir.MaxMinors {
		return Errorf(syscall.EINVAL, "minor %d: want 0 to %d (is \"minor\" missing?)", m, rundir.MaxMinors-1)
	}
	return nil
}

func checkImage(spec string) error {
	if _, err := disk.ParseChain(spec); err != nil {
		return &Error{Errno: syscall.EINVAL, Msg: err.Error()}
	}
	return nil
}

// noMinor marks a minor the request left out: decoding keeps it, and
// checkMinor refuses it.
const noMinor = -1

// decodeRequest parses line strictly into a copy of defaults: unknown
// fields, wrong types and trailing data are EINVAL.
func decodeRequest[R any, P interface {
	*R
	checker
}](line []byte, defaults R) (*R, error) {
	req := defaults
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, Errorf(syscall.EINVAL, "bad request: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, Errorf(syscall.EINVAL, "bad request: data after the JSON object")
	}
	if err := P(&req).check(); err != nil {
		return nil, err
	}
	return &req, nil
}
