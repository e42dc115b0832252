module gotap.dev/vhd-util

go 1.26
