package ring

import (
	"fmt"
	"slices"
	"testing"
)

// TestBatch: requests reach a sink that takes batches in one call per
// Submit (or per full batch), alone when one; a sink that takes none
// gets each at once.
func TestBatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		batches bool
		adds    []int // requests added before each Submit
		want    []string
	}{
		{"batches", true, []int{3, 1, 0}, []string{"batch 3", "one"}},
		{"full batches go at once", true, []int{5}, []string{"batch 4", "one"}},
		{"no batches", false, []int{2, 1}, []string{"one", "one", "one"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			one := func(*Request) { got = append(got, "one") }
			var many func([]*Request)
			if tc.batches {
				many = func(reqs []*Request) { got = append(got, fmt.Sprint("batch ", len(reqs))) }
			}
			b := NewBatch(one, many, 4)
			r := New(8, 512)
			for _, n := range tc.adds {
				for range n {
					b.Add(r.TryGet())
				}
				b.Submit()
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("submitted %q; want %q", got, tc.want)
			}
		})
	}
}
