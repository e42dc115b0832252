// Command xmsnap takes a live snapshot of a disk a tapdisk serves, as
// blktap's xmsnap did.
//
// # Synopsis
//
//	xmsnap [--run-dir DIR] [-n PATH] [--json] DISK
//
// # Description
//
// DISK is a minor (0), the image the disk serves (vhd:/srv/vm.vhd), or
// that image's path. xmsnap pauses the VBD (requests in flight drain,
// new ones wait), creates a new differencing VHD whose parent is the
// image served (a raw aio image becomes a raw parent), resumes the VBD
// on the new leaf vhd:NEW and prints NEW's path. The old image is now a
// read-only parent: do not write to it. The frontends see a stall of a
// few milliseconds, never an error.
//
// If any step fails, the VBD is resumed on its original image and xmsnap
// exits non-zero: the disk is never left paused or pointing at a broken
// chain. The work is libtap/livesnap's Take, which tapmon uses too.
//
// # Options
//
//	-n, --name PATH   the new leaf (default DIR/BASE.snapN.vhd beside the
//	                  current leaf, N the first free number; a.vhd,
//	                  a.snap3.vhd and a.img all give a.snapN.vhd). The file
//	                  is created exclusively: an existing one is never
//	                  overwritten.
//	--json            print {minor, parent, leaf, image, paused_ns}
//	--run-dir DIR     as tap-ctl's
//
// # Exit status
//
// 0 done; 1 failed, the disk serving its original image; 2 bad command
// line; 3 failed and the resume on the original image failed too, so the
// disk stays paused (tap-ctl unpause -m MINOR).
//
// # Examples
//
//	$ xmsnap 0
//	/srv/vm.snap1.vhd
//	$ xmsnap /srv/vm.snap1.vhd --json | jq .paused_ns
//	$ vhd-util check -p -n "$(xmsnap -n /srv/before-upgrade.vhd vhd:/srv/vm.snap1.vhd)"
package main
