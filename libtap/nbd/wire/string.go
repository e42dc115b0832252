package wire

// MaxString is the longest string the protocol allows: an export name, a
// meta context query, a message.
const MaxString = 4096

// AppendString32 appends s as option data carries strings: its length
// in 32 bits, then its bytes.
func AppendString32(b []byte, s string) []byte {
	return append(be.AppendUint32(b, uint32(len(s))), s...)
}

// CutString32 splits a string encoded by AppendString32 off the start of
// b; ok is false when b is too short to hold it.
func CutString32(b []byte) (s string, rest []byte, ok bool) {
	if len(b) < 4 || uint64(len(b)-4) < uint64(be.Uint32(b)) {
		return "", nil, false
	}
	n := 4 + int(be.Uint32(b))
	return string(b[4:n]), b[n:], true
}
