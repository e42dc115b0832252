package ring

// Batch collects the requests a frontend received together (one socket
// read, one wait for the kernel) and submits them in one call where the
// VBD takes batches: one io_uring submission for them all. A frontend
// submits the batch before it may block, so that no request waits for
// the next one.
type Batch struct {
	one  func(*Request)
	many func([]*Request) // nil: each request submitted alone, at once
	reqs []*Request
}

// NewBatch makes a batch of at most max requests for submitBatch, or,
// where it is nil, for submit one at a time.
func NewBatch(submit func(*Request), submitBatch func([]*Request), max int) *Batch {
	b := &Batch{one: submit, many: submitBatch}
	if submitBatch != nil {
		b.reqs = make([]*Request, 0, max)
	}
	return b
}

// Add adds req, submitting the batch once full.
func (b *Batch) Add(req *Request) {
	if b.many == nil {
		b.one(req)
		return
	}
	if b.reqs = append(b.reqs, req); len(b.reqs) == cap(b.reqs) {
		b.Submit()
	}
}

// Submit submits the requests added since the last Submit.
func (b *Batch) Submit() {
	switch len(b.reqs) {
	case 0:
		return
	case 1:
		b.one(b.reqs[0])
	default:
		b.many(b.reqs)
	}
	clear(b.reqs)
	b.reqs = b.reqs[:0]
}
