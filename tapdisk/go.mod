module gotap.dev/tapdisk

go 1.26.0

require (
	github.com/alecthomas/kong v1.17.0
	gotap.dev/libtap v0.0.0
	gotap.dev/libvhd v0.0.0
)

replace (
	gotap.dev/libtap => ../libtap
	gotap.dev/libvhd => ../libvhd
)
