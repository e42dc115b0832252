// Command xmsnap works on a disk a tapdisk serves, while it serves: a
// live snapshot (blktap's xmsnap), a live coalesce that shrinks the
// chain again, and a live grow.
//
// # Synopsis
//
//	xmsnap [--run-dir DIR] [--json] [snapshot] [-n PATH] DISK
//	xmsnap [--run-dir DIR] [--json] coalesce [--leaf [-n PATH]] [--top N] [--base N] [--remove] DISK
//	xmsnap [--run-dir DIR] [--json] grow -s MB DISK
//
// # Description
//
// DISK is a minor (0), the image the disk serves (vhd:/srv/vm.vhd), or
// that image's path.
//
// snapshot (the default command) pauses the VBD (requests in flight
// drain, new ones wait), creates a new differencing VHD whose parent is
// the image served (a raw aio image becomes a raw parent), resumes the
// VBD on the new leaf vhd:NEW and prints NEW's path. The old image is
// now a read-only parent: do not write to it. The frontends see a stall
// of a few milliseconds, never an error.
//
// coalesce asks the tapdisk to merge layers TOP..BASE-1 of the chain (0
// is the leaf) into layer BASE: by default everything between the leaf
// and the last image. The tapdisk copies their data into BASE beside
// the guest's requests (the chain reads the same throughout: BASE
// receives what the layers above it hold), then pauses the VBD only to
// point the layer above them at BASE, and resumes. --leaf first takes a
// snapshot, so that the old leaf merges too. It prints "Coalesced N
// sectors" and the merged images, which stay on disk unless --remove
// (an image another process still opens is kept, and the error says
// so). A pause or close of the disk during the copy interrupts it
// harmlessly: run it again.
//
// grow pauses the VBD, grows its VHD leaf to MB within the BAT entries
// reserved when it was made (vhd-util create -S, snapshot -S), and
// resumes at the new size, which NBD connections opened afterwards see.
// Shrinking is refused, and a leaf without room is left as it was.
//
// If any step fails, the VBD is resumed on the image it was serving and
// xmsnap exits non-zero: the disk is never left paused or pointing at a
// broken chain. The work is libtap/livesnap's, which tapmon uses too.
//
// # Options
//
//	-n, --name PATH   the new leaf (default DIR/BASE.snapN.vhd beside the
//	                  current leaf, N the first free number; a.vhd,
//	                  a.snap3.vhd and a.img all give a.snapN.vhd). The file
//	                  is created exclusively: an existing one is never
//	                  overwritten.
//	--json            print the result as JSON: snapshot {minor, parent,
//	                  leaf, image, paused_ns}; coalesce {minor, leaf,
//	                  sectors, merged, removed, pauses_ns}; grow {minor,
//	                  image, from, to, paused_ns}
//	--run-dir DIR     as tap-ctl's
//
// # Exit status
//
// 0 done; 1 failed, the disk serving; 2 bad command line; 3 failed and
// the resume on the original image failed too, so the disk stays paused
// (tap-ctl unpause -m MINOR).
//
// # Examples
//
//	$ xmsnap 0
//	/srv/vm.snap1.vhd
//	$ xmsnap /srv/vm.snap1.vhd --json | jq .paused_ns
//	$ vhd-util check -p -n "$(xmsnap -n /srv/before-upgrade.vhd vhd:/srv/vm.snap1.vhd)"
//	$ xmsnap coalesce --remove 0
//	Coalesced 5120 sectors
//	/srv/vm.snap1.vhd
//	$ xmsnap grow -s 20480 0
//	21474836480
package main
