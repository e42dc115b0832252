package wire

// Flags of base:allocation's descriptors.
const (
	StateHole uint32 = 1 << 0
	StateZero uint32 = 1 << 1
)

// Sizes in a BLOCK_STATUS chunk's payload: the context id, then
// descriptors.
const (
	ContextIDSize  = 4
	DescriptorSize = 8
)

// Descriptor is one extent of a block status reply: Length bytes, from
// where the previous one ended, with the context's Flags.
type Descriptor struct {
	Length uint32
	Flags  uint32
}

// Append appends d's encoding to b.
func (d Descriptor) Append(b []byte) []byte {
	b = be.AppendUint32(b, d.Length)
	return be.AppendUint32(b, d.Flags)
}

// Parse decodes b into d.
func (d *Descriptor) Parse(b *[DescriptorSize]byte) {
	d.Length = be.Uint32(b[0:])
	d.Flags = be.Uint32(b[4:])
}
