// Command vhd-util creates, inspects, checks and repairs VHD images, with
// the flags and plain output of blktap's vhd-util, so that scripts written
// for it keep working.
//
// # Synopsis
//
//	vhd-util COMMAND -n NAME [OPTIONS] [--json]
//	vhd-util COMMAND --help
//
// # Description
//
// Sizes are in MB (MiB) unless they carry a suffix: K, M, G or T (binary
// units) or B for bytes, e.g. 10G, 512M, 1073742336B. The largest disk is
// 2040 GiB.
//
//	create    -n NAME -s SIZE [-r] [-S MAXSIZE]   new dynamic (or, -r, fixed) image
//	snapshot  -n CHILD -p PARENT [-m] [-l DEPTH] [-e] [-S MAXSIZE]
//	                                              new differencing image
//	query     -n NAME [-v -s -p -f -m -d -a -S -u] one value per line, always in
//	                                              the order v s p f m d a S
//	read      -n NAME [-p -t SEC -b BLK -B -m BLK -i SEC -e SEC -a -j BLK
//	          -d BLK -r SEC -R BYTE -c N -x]      dump metadata and data
//	set       -n NAME -f hidden|marker -v N       set a flag
//	repair    -n NAME [-b]                        restore the EOF footer, give a
//	                                              null-UUID image a UUID
//	modify    -n NAME [-p PARENT [-m]] [-s BYTES] [-z]
//	                                              reparent, move the footer, empty the BAT
//	scan      [-f] [-m GLOB] [-l VG] [-p] [-a] [-v] [-M] [-c] [FILES...]
//	                                              one line per image
//	check     -n NAME [-p] [-b] [-t] [-i] [-I] [-B] [-s]
//	                                              verify; "NAME is valid" or blktap's report
//	coalesce, resize, revert, fill, convert       see their --help
//
// --debug may come anywhere on the line (blktap's biggest user passes it
// to almost every call): it logs on stderr and never changes stdout.
//
// # Output
//
// Standard output is blktap's, byte for byte, wherever a script parses
// it: query's lines in blktap's order (-s the end of the data plus the
// footer, -p the parent's canonical path; "error opening NAME: -ERRNO"
// when the image does not open), read's formats (raw bytes for -B -m -a
// -d -r -R), scan's lines and error lines, check's "is valid" lines,
// its report of an invalid image (the first problem in blktap's words,
// "NAME appears invalid; dumping metadata", read -p's summaries) and its
// -s statistics, coalesce's and resize's lines; set, repair, modify and
// revert print nothing on success. gotap's extras never change it: --json
// prints one JSON document instead, and gotap's own explanations (every
// problem check found, why an image did not open or scan) go to standard
// error.
//
// Every command takes --json and then prints one JSON document instead of
// the plain text. `vhd-util COMMAND --help` explains each flag and shows an
// example.
//
// # LVM volumes (LVHD)
//
// create and snapshot write into an existing block device, such as an LVM
// logical volume made by lvcreate (never into an existing regular file),
// if it holds the image's metadata. On a device the EOF footer follows
// the data, not the device's end (unless modify -s moved it there), and
// every command finds it from the footer copy at offset 0, the header
// and the BAT. scan -l VG lists the volumes of volume group VG that -m
// GLOB matches with lvs, activating inactive ones for the scan and
// deactivating them after it; vhd= and parent= are volume names, size=
// the volume's size.
//
// # Parents
//
// A differencing image's parent (a VHD, or with a null parent UUID a raw
// file or device) is opened only if, every symbolic link followed, it is
// a regular file in the child's own folder, or a regular file or block
// device under a folder the operator allows: --parent-dir DIR (snapshot,
// query, read, modify, check; repeatable) or $GOTAP_PARENT_DIRS
// (colon-separated, for every gotap tool at once). An LVM volume group's
// /dev/VG is such a folder. A FIFO, socket, character device or
// directory is never a parent (nor an image), and a raw parent must be
// at least as large as the child. check reports a parent it would refuse
// as a problem of the locator that names it.
//
// check lists at most 10 problems of one kind, then one line counting the
// rest ("FILE: bat: and N more: block … at …"), and does not read blocks
// that lie over metadata or each other: its memory and time follow the
// file's size, whatever the header declares.
//
// # Exit status
//
// 0 on success; otherwise the errno of the failure, as blktap's vhd-util
// returns it (its scripts test it: SM retries on EIO and EAGAIN and takes
// ENOENT for a missing image):
//
//	22 EINVAL  a bad command line or request (a size over 2040 GiB, a
//	           count past the disk, not a differencing image, a fixed
//	           image where a BAT is needed, a size that cuts into data,
//	           shrinking, an unusable journal), an image that is not a
//	           valid VHD (nor a regular file or block device), a parent
//	           of another UUID, or check finding a problem
//	 2 ENOENT  a missing image or parent
//	13 EACCES  permission denied, or a parent refused by the rule above
//	16 EBUSY   an image another process writes, or a parent another
//	           process reads while the command would write it
//	17 EEXIST  create, snapshot or convert over an existing file
//	28 ENOSPC  a chain deeper than snapshot -l allows, or a full disk
//	34 ERANGE  read: a block or sector past the image
//	38 ENOSYS  set -f marker on an image without a batmap
//	 5 EIO     a read or write that failed, and any other failure
//
// Any other errno the system returns (EROFS, ENOTDIR...) is passed on.
//
// Errors go to standard error as "vhd-util COMMAND: FILE: problem".
package main
