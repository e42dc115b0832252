module gotap.dev/tapdisk

go 1.26
