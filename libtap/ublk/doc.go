// Package ublk serves a VBD as a Linux block device /dev/ublkbN through
// ublk_drv (Linux 6.5 or later: GET_FEATURES and the ioctl-encoded
// opcodes), over gotap's io_uring engine.
//
// Control commands go to /dev/ublk-control as URING_CMDs of 128-byte
// entries: GET_FEATURES, ADD_DEV (the queues, their depth, the largest
// request; gotap's mark in the server flags), SET_PARAMS (the image's
// size, 512-byte logical and 4 KiB physical blocks, read-only, a
// volatile cache with FUA, discard where the driver trims, write-zeroes),
// START_DEV once every queue has fetched its tags; STOP_DEV and DEL_DEV
// on Close.
//
// Each queue is served by an OS thread of its own (queue.go): it fetches
// every tag on /dev/ublkcN, reads the request of a tag from the
// descriptors the kernel maps, submits it to the VBD with the tag's
// buffer as its data, and commits its result with COMMIT_AND_FETCH_REQ.
//
// A pause holds requests in the VBD, as for every frontend: the kernel
// waits for them (ublk's QUIESCE_DEV, Linux 6.16, is for handing a
// device to a new server, not needed to hold its requests).
//
// Recovery: a device is added with USER_RECOVERY_REISSUE where the kernel
// has it. When its server dies (kill -9) the kernel quiesces it and keeps
// the requests it held; Recover, in a new server, takes the device over
// (START_USER_RECOVERY, the queues fetched again, END_USER_RECOVERY) and
// the held requests are reissued to it: none fails.
package ublk
