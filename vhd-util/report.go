package main

import "io"

// report writes a command's results as they come in plain text, or
// gathers them into one JSON object printed by done.
type report struct {
	json bool
	w    io.Writer
	doc  map[string]any
	err  error
}

func newReport(w io.Writer, asJSON bool) *report {
	return &report{json: asJSON, w: w, doc: map[string]any{}}
}

// add records value under key for JSON, or writes text (lines with their
// newlines, or raw bytes) for plain output.
func (r *report) add(key string, value any, text string) {
	if r.json {
		r.doc[key] = value
		return
	}
	if r.err == nil {
		_, r.err = io.WriteString(r.w, text)
	}
}

// done prints the JSON document and returns the first write error.
func (r *report) done() error {
	if r.json && r.err == nil {
		r.err = writeJSON(r.w, r.doc)
	}
	return r.err
}
