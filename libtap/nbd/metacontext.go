package nbd

import "fmt"

// metaContext answers NBD_OPT_LIST_META_CONTEXT and
// NBD_OPT_SET_META_CONTEXT. The only context is base:allocation; LIST
// also matches the wildcard "base:" and, with no query, lists it; SET
// selects it only by its full name and replaces any earlier selection.
func (c *conn) metaContext(opt uint32, data []byte) error {
	if !c.structured {
		return c.optError(opt, RepErrInvalid, "negotiate structured replies first")
	}
	name, rest, ok := cutString32(data)
	if !ok || len(rest) < 4 {
		return c.optError(opt, RepErrInvalid, "malformed meta context request")
	}
	count := be.Uint32(rest)
	rest = rest[4:]
	match := count == 0 && opt == OptListMetaContext
	for range count {
		var q string
		if q, rest, ok = cutString32(rest); !ok {
			return c.optError(opt, RepErrInvalid, "malformed meta context query")
		}
		match = match || q == MetaBaseAllocation || (q == "base:" && opt == OptListMetaContext)
	}
	if len(rest) != 0 {
		return c.optError(opt, RepErrInvalid, "trailing data after meta context queries")
	}
	if _, ok := c.srv.lookup(c, name, false); !ok {
		return c.optError(opt, RepErrUnknown, fmt.Sprintf("no export %q", name))
	}
	if opt == OptSetMetaContext {
		c.allocation = match
	}
	if match {
		id := uint32(0) // ids mean nothing in a list
		if opt == OptSetMetaContext {
			id = allocationID
		}
		if err := c.optReply(opt, RepMetaContext, append(be.AppendUint32(nil, id), MetaBaseAllocation...)); err != nil {
			return err
		}
	}
	return c.optReply(opt, RepAck, nil)
}
