package nbd

import (
	"fmt"

	"gotap.dev/libtap/nbd/wire"
)

// metaContext answers NBD_OPT_LIST_META_CONTEXT and
// NBD_OPT_SET_META_CONTEXT. The only context is base:allocation; LIST
// also matches the wildcard "base:" and, with no query, lists it; SET
// selects it only by its full name and replaces any earlier selection.
func (c *conn) metaContext(opt uint32, data []byte) error {
	if !c.structured {
		return c.optError(opt, wire.RepErrInvalid, "negotiate structured replies first")
	}
	name, queries, ok := wire.ParseMetaQuery(data)
	if !ok {
		return c.optError(opt, wire.RepErrInvalid, "malformed meta context request")
	}
	list := opt == wire.OptListMetaContext
	match := len(queries) == 0 && list
	for _, q := range queries {
		match = match || q == wire.MetaBaseAllocation || (q == "base:" && list)
	}
	if _, ok := c.srv.lookup(c, name, false); !ok {
		return c.optError(opt, wire.RepErrUnknown, fmt.Sprintf("no export %q", name))
	}
	if !list {
		c.allocation = match
	}
	if match {
		ctx := wire.MetaContext{Name: wire.MetaBaseAllocation} // ids mean nothing in a list
		if !list {
			ctx.ID = allocationID
		}
		if err := c.optReply(opt, wire.RepMetaContext, ctx.Append(nil)); err != nil {
			return err
		}
	}
	return c.optReply(opt, wire.RepAck, nil)
}
