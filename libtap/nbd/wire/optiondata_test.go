package wire_test

import (
	"bytes"
	"reflect"
	"testing"

	"gotap.dev/libtap/nbd/wire"
)

// Decoded queries, as the table compares them.
type (
	exportQuery struct {
		name  string
		infos []uint16
	}
	metaQuery struct {
		export  string
		queries []string
	}
)

func parseExportQuery(b []byte) (any, bool) {
	name, infos, ok := wire.ParseExportQuery(b)
	return exportQuery{name, infos}, ok
}

func parseMetaQuery(b []byte) (any, bool) {
	export, queries, ok := wire.ParseMetaQuery(b)
	return metaQuery{export, queries}, ok
}

// TestOptionData: the data of options and of their replies encodes to
// the protocol's layout and decodes back to what was encoded.
func TestOptionData(t *testing.T) {
	e := wire.Export{Size: 5 << 30, Flags: wire.FlagHasFlags | wire.FlagSendFlush}
	s := wire.BlockSize{Min: wire.MinBlock, Preferred: wire.PreferredBlock, Max: wire.MaxBlock}
	m := wire.MetaContext{ID: 1, Name: wire.MetaBaseAllocation}
	for _, tc := range []struct {
		name  string
		data  []byte
		want  string
		parse func([]byte) (any, bool)
		val   any
	}{
		{"export query, default export", wire.AppendExportQuery(nil, ""), "00000000 0000",
			parseExportQuery, exportQuery{}},
		{"export query", wire.AppendExportQuery(nil, "disk", wire.InfoBlockSize), "00000004 6469736b 0001 0003",
			parseExportQuery, exportQuery{"disk", []uint16{wire.InfoBlockSize}}},
		{"export query, two types", wire.AppendExportQuery(nil, "d", wire.InfoExport, wire.InfoName), "00000001 64 0002 0000 0001",
			parseExportQuery, exportQuery{"d", []uint16{wire.InfoExport, wire.InfoName}}},
		{"meta query, none", wire.AppendMetaQuery(nil, ""), "00000000 00000000",
			parseMetaQuery, metaQuery{}},
		{"meta query", wire.AppendMetaQuery(nil, "d", "base:"), "00000001 64 00000001 00000005 626173653a",
			parseMetaQuery, metaQuery{"d", []string{"base:"}}},
		{"meta query, an empty one", wire.AppendMetaQuery(nil, "", "a", ""), "00000000 00000002 00000001 61 00000000",
			parseMetaQuery, metaQuery{"", []string{"a", ""}}},
		{"export info", e.AppendInfo(nil), "0000 0000000140000000 0005",
			parser((*wire.Export).ParseInfo), e},
		{"block size info", s.AppendInfo(nil), "0003 00000200 00001000 02000000",
			parser((*wire.BlockSize).ParseInfo), s},
		{"meta context", m.Append(nil), "00000001 626173653a616c6c6f636174696f6e",
			parser((*wire.MetaContext).Parse), m},
	} {
		if want := layout(t, tc.want); !bytes.Equal(tc.data, want) {
			t.Errorf("%s: encoded % x; want % x", tc.name, tc.data, want)
		}
		if got, ok := tc.parse(tc.data); !ok || !reflect.DeepEqual(got, tc.val) {
			t.Errorf("%s: decoded %+v, %v; want %+v, true", tc.name, got, ok, tc.val)
		}
	}
}

// TestMalformedOptionData: data cut short, or with bytes past its end,
// is refused, never read past.
func TestMalformedOptionData(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parse func([]byte) (any, bool)
		data  string
	}{
		{"export query: empty", parseExportQuery, ""},
		{"export query: name longer than the data", parseExportQuery, "00000005 6469736b 0000"},
		{"export query: no count", parseExportQuery, "00000000"},
		{"export query: fewer types than counted", parseExportQuery, "00000000 0002 0003"},
		{"export query: trailing byte", parseExportQuery, "00000000 0000 00"},
		{"export query: huge name length", parseExportQuery, "ffffffff 0000"},
		{"meta query: no count", parseMetaQuery, "00000000"},
		{"meta query: fewer queries than counted", parseMetaQuery, "00000000 ffffffff 00000000"},
		{"meta query: query cut short", parseMetaQuery, "00000000 00000001 00000002 61"},
		{"meta query: trailing bytes", parseMetaQuery, "00000000 00000000 00"},
		{"meta context: no id", parser((*wire.MetaContext).Parse), "000000"},
		{"export info: short", parser((*wire.Export).ParseInfo), "0000 0000000000000000 00"},
		{"export info: another type", parser((*wire.Export).ParseInfo), "0003 0000000000000000 0000"},
		{"block size info: short", parser((*wire.BlockSize).ParseInfo), "0003 00000200 00001000 000000"},
		{"block size info: another type", parser((*wire.BlockSize).ParseInfo), "0000 00000200 00001000 00000000"},
	} {
		if _, ok := tc.parse(layout(t, tc.data)); ok {
			t.Errorf("%s: %s parsed; want refused", tc.name, tc.data)
		}
	}
}
