package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

// newLogger builds the logger the flags ask for. The returned closer
// closes the log file, if any.
func newLogger(f *flags, stderr io.Writer) (*slog.Logger, io.Closer, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.LogLevel)); err != nil {
		return nil, nil, fmt.Errorf("--log-level: %w", err)
	}
	w, closer := stderr, io.Closer(nopCloser{})
	if f.LogFile != "" {
		file, err := os.OpenFile(f.LogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, fmt.Errorf("log file: %w", err)
		}
		w, closer = file, file
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if f.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(h).With("pid", os.Getpid()), closer, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
