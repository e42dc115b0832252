module gotap.dev/tapmon

go 1.26
