// Package libtap is the engine behind tapdisk: the shared-memory ring that
// a block frontend submits requests through, the request scheduler, the
// stack of image drivers (VHD through libvhd, raw, and small filters), the
// control protocol that tap-ctl speaks over a unix socket, and an NBD
// server that exports a driver stack to other clients.
//
// The binaries are thin shells over it: tapdisk serves, tap-ctl controls.
// Nothing is implemented yet.
package libtap
