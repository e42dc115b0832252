module gotap.dev/libtap

go 1.26
