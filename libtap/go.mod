module gotap.dev/libtap

go 1.26.0

require (
	github.com/alecthomas/kong v1.17.0
	github.com/google/go-cmp v0.7.0
	github.com/mdlayher/genetlink v1.4.0
	github.com/mdlayher/netlink v1.9.0
	github.com/rogpeppe/go-internal v1.16.0
	golang.org/x/sys v0.49.0
	gotap.dev/libvhd v0.0.0
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/mdlayher/socket v0.6.0 // indirect
	golang.org/x/net v0.52.0 // indirect
	golang.org/x/sync v0.20.0 // indirect
	golang.org/x/tools v0.26.0 // indirect
)

replace gotap.dev/libvhd => ../libvhd
