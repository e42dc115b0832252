// Command tapmon watches every tapdisk's I/O live in a terminal.
//
// # Synopsis
//
//	tapmon [--run-dir DIR] [-i INTERVAL]
//	tapmon --once [--json] [--run-dir DIR] [-i INTERVAL]
//
// # Description
//
// tapmon finds the tapdisks of the run directory (package tapscan, as
// tap-ctl list does) every INTERVAL, so new and vanished ones show within
// one, and shows one row per VBD: minor, pid, state, type:path, read and
// write IOPS and MiB/s, latency p50/p99, requests in flight, retries,
// errors, LIMIT (which directions a valve layer rate-limits: r, w, r+w),
// a throughput sparkline, and totals. Rates and latency
// percentiles are over the last interval: differences of successive
// snapshots (the latency from the difference of the histograms).
//
// A killed tapdisk's rows turn dead (its socket is left, nobody answers);
// one that exits cleanly, or a detached minor, shows gone for five
// seconds, then its row goes.
//
// enter shows the selected VBD: its image chain (each VHD layer opened
// read-only through libvhd, or the aio file) with virtual size, file size
// and allocated share (the files under its filter layers); request
// totals and merge ratio; its valve's limits and how long they held
// requests back; how far a live coalesce (xmsnap coalesce) has got;
// recent errors (failed I/O among them); and its latency
// histogram since it opened.
//
// Keys: ↑/k and ↓/j move, enter detail, esc back, p pause, u unpause, s
// live snapshot (package livesnap, xmsnap's code path), / filter, ? help,
// q quit. p, u and s ask y/n first and show their outcome on the status
// line.
//
// The screen fits 80×24 by dropping the least useful columns (RETRY,
// INFL, P50, PID, TREND) and keeps to plain text under NO_COLOR or off a
// terminal: the selected row is marked with ">" as well as highlighted.
// It redraws once per interval, and only the lines that changed.
//
// # Options
//
//	--run-dir DIR      run directory (default $BLKTAP_RUN_DIR, else
//	                   /run/blktap-control for root, else
//	                   $XDG_RUNTIME_DIR/blktap-control)
//	-i, --interval D   time between snapshots (default 1s, at least 100ms)
//	--once             print the figures once and exit: two snapshots
//	                   INTERVAL apart, so rates mean the same as live; a
//	                   fixed-width table, image last, no colour
//	--json             with --once: JSON (interval_s, vbds[], totals;
//	                   a rate-limited VBD's limits)
//
// # Exit status
//
// 0 on q or after --once; 1 if the run directory cannot be read or the
// terminal fails; 2 for bad flags.
package main
