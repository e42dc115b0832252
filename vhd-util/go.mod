module gotap.dev/vhd-util

go 1.26

require (
	github.com/alecthomas/kong v1.17.0
	gotap.dev/libvhd v0.0.0
)

replace gotap.dev/libvhd => ../libvhd
