module gotap.dev/xmsnap

go 1.26
