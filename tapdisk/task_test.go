package main

import (
	"errors"
	"testing"
	"time"
)

func TestTaskWait(t *testing.T) {
	boom := errors.New("boom")
	release := make(chan struct{})
	tests := []struct {
		name  string
		fn    func() error
		limit time.Duration
		want  error
	}{
		{"returns nil", func() error { return nil }, time.Second, nil},
		{"returns an error", func() error { return boom }, time.Second, boom},
		{"stuck", func() error { <-release; return nil }, 50 * time.Millisecond, errStuck},
	}
	for _, tt := range tests {
		tk := goTask(tt.name, tt.fn)
		// Twice: the second wait must not block on a value already taken.
		for i := range 2 {
			if err := tk.wait(tt.limit); !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("%s: wait #%d = %v; want %v", tt.name, i+1, err, tt.want)
			}
		}
	}
	close(release)
}
