package wire

// MetaBaseAllocation is the metadata context of allocation: its block
// status descriptors carry StateHole and StateZero.
const MetaBaseAllocation = "base:allocation"

// AppendMetaQuery appends the data of NBD_OPT_LIST_META_CONTEXT and
// NBD_OPT_SET_META_CONTEXT: the export's name, then the queries.
func AppendMetaQuery(b []byte, export string, queries ...string) []byte {
	b = AppendString32(b, export)
	b = be.AppendUint32(b, uint32(len(queries)))
	for _, q := range queries {
		b = AppendString32(b, q)
	}
	return b
}

// ParseMetaQuery decodes the data of NBD_OPT_LIST_META_CONTEXT or
// NBD_OPT_SET_META_CONTEXT and reports whether it was well formed, with
// nothing after the queries.
func ParseMetaQuery(data []byte) (export string, queries []string, ok bool) {
	export, rest, ok := CutString32(data)
	if !ok || len(rest) < 4 {
		return "", nil, false
	}
	count := be.Uint32(rest)
	rest = rest[4:]
	for range count {
		var q string
		if q, rest, ok = CutString32(rest); !ok {
			return "", nil, false
		}
		queries = append(queries, q)
	}
	if len(rest) != 0 {
		return "", nil, false
	}
	return export, queries, true
}

// MetaContext is an NBD_REP_META_CONTEXT's data: a context's id (what
// block status chunks name it by) and its name.
type MetaContext struct {
	ID   uint32
	Name string
}

// Append appends m's encoding to b.
func (m MetaContext) Append(b []byte) []byte {
	return append(be.AppendUint32(b, m.ID), m.Name...)
}

// Parse decodes data into m and reports whether it was long enough.
func (m *MetaContext) Parse(data []byte) bool {
	if len(data) < 4 {
		return false
	}
	m.ID, m.Name = be.Uint32(data), string(data[4:])
	return true
}
