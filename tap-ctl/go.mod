module gotap.dev/tap-ctl

go 1.26
