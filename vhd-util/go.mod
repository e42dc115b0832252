module gotap.dev/vhd-util

go 1.26.0

require (
	github.com/alecthomas/kong v1.17.0
	github.com/google/go-cmp v0.7.0
	gotap.dev/libtap v0.0.0
	gotap.dev/libvhd v0.0.0
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/rogpeppe/go-internal v1.16.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/tools v0.26.0 // indirect
)

replace gotap.dev/libvhd => ../libvhd

replace gotap.dev/libtap => ../libtap
