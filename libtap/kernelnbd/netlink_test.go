package kernelnbd

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
)

// attrs decodes a message's attributes: numbers as uint64 (u32 and u64
// told apart by length), the backend as a string, the sockets as the
// list of their descriptors.
func attrs(t *testing.T, m genetlink.Message) map[uint16]any {
	t.Helper()
	ad, err := netlink.NewAttributeDecoder(m.Data)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint16]any{}
	for ad.Next() {
		switch typ := ad.Type(); {
		case typ == attrBackend:
			got[typ] = ad.String()
		case typ == attrSockets:
			var fds []uint32
			ad.Nested(func(items *netlink.AttributeDecoder) error {
				for items.Next() {
					if items.Type() != sockItem {
						t.Errorf("socket list item of type %d; want %d", items.Type(), sockItem)
					}
					items.Nested(func(item *netlink.AttributeDecoder) error {
						for item.Next() {
							if item.Type() == sockFD {
								fds = append(fds, item.Uint32())
							}
						}
						return nil
					})
				}
				return nil
			})
			got[typ] = fds
		default:
			switch b := ad.Bytes(); len(b) {
			case 4:
				got[typ] = uint64(nlenc.Uint32(b))
			case 8:
				got[typ] = nlenc.Uint64(b)
			default:
				t.Errorf("attribute %d: %d bytes, not a number", typ, len(b))
			}
		}
	}
	if err := ad.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestMessages(t *testing.T) {
	full := Config{
		Index: 3, Size: 64 << 20, BlockSize: 512, Flags: 0x15d,
		Timeout: 30 * time.Second, DeadConnTimeout: 1500 * time.Millisecond, Backend: "gotap:vhd:/srv/a.vhd",
	}
	build := func(f func() (genetlink.Message, error)) genetlink.Message {
		m, err := f()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for _, tc := range []struct {
		name string
		msg  genetlink.Message
		cmd  uint8
		want map[uint16]any
	}{
		{"connect", build(func() (genetlink.Message, error) { return connectMessage(full, []int{7, 9}) }), cmdConnect,
			map[uint16]any{
				attrIndex: uint64(3), attrSizeBytes: uint64(64 << 20), attrBlockSizeBytes: uint64(512),
				attrServerFlags: uint64(0x15d), attrTimeout: uint64(30),
				attrDeadConnTimeout: uint64(2), // rounded up, never down to "none"
				attrBackend:         "gotap:vhd:/srv/a.vhd", attrSockets: []uint32{7, 9},
			}},
		{"connect, any device, kernel timeouts", build(func() (genetlink.Message, error) {
			return connectMessage(Config{Index: -1, Size: 1 << 20, BlockSize: 4096}, []int{5})
		}), cmdConnect,
			map[uint16]any{
				attrSizeBytes: uint64(1 << 20), attrBlockSizeBytes: uint64(4096),
				attrServerFlags: uint64(0), attrSockets: []uint32{5},
			}},
		{"reconfigure", build(func() (genetlink.Message, error) { return reconfigureMessage(2, "gotap", []int{11, 12, 13}) }), cmdReconfigure,
			map[uint16]any{attrIndex: uint64(2), attrBackend: "gotap", attrSockets: []uint32{11, 12, 13}}},
		{"disconnect", build(func() (genetlink.Message, error) { return disconnectMessage(0) }), cmdDisconnect,
			map[uint16]any{attrIndex: uint64(0)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.msg.Header.Command != tc.cmd || tc.msg.Header.Version != version {
				t.Errorf("header %+v; want command %d version %d", tc.msg.Header, tc.cmd, version)
			}
			if diff := cmp.Diff(tc.want, attrs(t, tc.msg)); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReplyIndex(t *testing.T) {
	encode := func(f func(*netlink.AttributeEncoder)) genetlink.Message {
		ae := netlink.NewAttributeEncoder()
		f(ae)
		b, err := ae.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return genetlink.Message{Data: b}
	}
	for _, tc := range []struct {
		name    string
		msgs    []genetlink.Message
		want    int
		wantErr bool
	}{
		{"index", []genetlink.Message{encode(func(ae *netlink.AttributeEncoder) { ae.Uint32(attrIndex, 5) })}, 5, false},
		{"after other attributes", []genetlink.Message{encode(func(ae *netlink.AttributeEncoder) {
			ae.Uint64(attrSizeBytes, 1)
			ae.Uint32(attrIndex, 12)
		})}, 12, false},
		{"no index", []genetlink.Message{encode(func(ae *netlink.AttributeEncoder) { ae.Uint64(attrSizeBytes, 1) })}, 0, true},
		{"no message", nil, 0, true},
		{"truncated", []genetlink.Message{{Data: []byte{8, 0, 1}}}, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := replyIndex(tc.msgs)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("replyIndex = %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"/dev/nbd0", 0, true}, {"nbd15", 15, true}, {"/dev/nbd123", 123, true},
		{"/dev/nbd", 0, false}, {"/dev/nbd1p1", 0, false}, {"/dev/nbd-1", 0, false},
		{"/dev/ublkb0", 0, false}, {"/dev/nbd01", 0, false}, {"/tmp/nbd0", 0, false},
	} {
		got, err := ParsePath(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParsePath(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
