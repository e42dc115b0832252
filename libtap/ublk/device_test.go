package ublk

import (
	"errors"
	"syscall"
	"testing"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/ring"
)

// export is an Export of a size and capabilities, serving nothing.
type export struct {
	size int64
	caps disk.Caps
}

func (e export) Size() int64          { return e.size }
func (e export) Caps() disk.Caps      { return e.caps }
func (e export) Ring() *ring.Ring     { return nil }
func (e export) Submit(*ring.Request) {}

func TestAddFlags(t *testing.T) {
	const all = FeatUserRecovery | FeatUserRecoveryReissue | FeatCmdIoctlEncode | 1<<1 | 1<<12
	for _, tc := range []struct {
		name           string
		features, want uint64
	}{
		{"all", all, FeatUserRecovery | FeatUserRecoveryReissue | FeatCmdIoctlEncode},
		{"recovery without reissue", FeatUserRecovery | FeatCmdIoctlEncode, FeatCmdIoctlEncode},
		{"nothing", 0, 0},
	} {
		if got := addFlags(tc.features); got != tc.want {
			t.Errorf("%s: addFlags(%#x) = %#x; want %#x", tc.name, tc.features, got, tc.want)
		}
	}
}

// TestDeviceParams: the image's size and capabilities as the device's.
func TestDeviceParams(t *testing.T) {
	const size = 256 << 20
	for _, tc := range []struct {
		name string
		caps disk.Caps
		want params
	}{
		{"vhd", disk.Caps{FUA: disk.Emulated, Trim: disk.Native, Zero: disk.Native},
			params{fua: true, logicalShift: 9, physicalShift: 12, maxSectors: 1024, sectors: size / 512,
				discardGranule: 4096, maxDiscardSectors: 65536, maxZeroesSectors: 65536}},
		{"no trim", disk.Caps{FUA: disk.Native},
			params{fua: true, logicalShift: 9, physicalShift: 12, maxSectors: 1024, sectors: size / 512, maxZeroesSectors: 65536}},
		{"read-only", disk.Caps{ReadOnly: true, Trim: disk.Native},
			params{readOnly: true, logicalShift: 9, physicalShift: 12, maxSectors: 1024, sectors: size / 512}},
	} {
		if got := deviceParams(export{size, tc.caps}, 512<<10); got != tc.want {
			t.Errorf("%s: params %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

// TestCheckRecoverable: only a device gotap added with user recovery,
// of the image's size, is taken over.
func TestCheckRecoverable(t *testing.T) {
	const size = 64 << 20
	ours := devInfo{flags: FeatUserRecovery | FeatUserRecoveryReissue, serverFlags: gotapMark}
	other := ours
	other.serverFlags = 0
	unrecoverable := ours
	unrecoverable.flags = FeatCmdIoctlEncode
	for _, tc := range []struct {
		name    string
		info    devInfo
		sectors uint64
		want    error
	}{
		{"ours", ours, size / 512, nil},
		{"another server's", other, size / 512, syscall.EINVAL},
		{"without recovery", unrecoverable, size / 512, syscall.EOPNOTSUPP},
		{"another size", ours, 2048, syscall.EMEDIUMTYPE},
	} {
		err := checkRecoverable(tc.info, tc.sectors, size)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: checkRecoverable = %v; want %v", tc.name, err, tc.want)
		}
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		path string
		want int
		ok   bool
	}{
		{"/dev/ublkb0", 0, true}, {"ublkb12", 12, true},
		{"/dev/ublkc0", 0, false}, {"/dev/nbd0", 0, false}, {"/dev/ublkb-1", 0, false},
		{"/dev/ublkb01", 0, false}, {"/dev/ublkb1x", 0, false},
	} {
		n, err := ParsePath(tc.path)
		if (err == nil) != tc.ok || (tc.ok && n != tc.want) {
			t.Errorf("ParsePath(%q) = %d, %v; want %d, ok %v", tc.path, n, err, tc.want, tc.ok)
		}
	}
}
