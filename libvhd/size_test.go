package libvhd

import "testing"

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		unit int64
		want int64
		ok   bool
	}{
		{"20", 1 << 20, 20 << 20, true},
		{"10G", 1 << 20, 10 << 30, true},
		{"1073742336B", 1 << 20, 1<<30 + 512, true},
		{"4096k", 1, 4 << 20, true},
		{"1T", 1, 1 << 40, true},
		{"", 1, 0, false},
		{"-1", 1, 0, false},
		{"12X", 1, 0, false},
		{"99999999999999T", 1, 0, false},
	} {
		got, err := ParseSize(tc.in, tc.unit)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q, %d) = %d, %v; want %d, ok=%v", tc.in, tc.unit, got, err, tc.want, tc.ok)
		}
	}
}
