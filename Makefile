# gotap: build, test and demo. Run from the checkout's root (the go.work
# workspace). See README.md.

BINS    := tapdisk tap-ctl vhd-util vhd-update xmsnap tapmon
PREFIX  ?= /usr/local
GO      ?= go
# Every module of the workspace, as a ./dir/... pattern, so new modules
# listed in go.work are tested without editing this file.
MODULES := $(shell $(GO) list -m -f '{{.Dir}}/...')

.PHONY: all build test test-deps race fuzz-smoke guest demo install clean bench FORCE

all: build

build: $(BINS:%=bin/%)

# FORCE: go's own cache decides what is stale, not make's timestamps.
bin/%: FORCE
	$(GO) build -o $@ ./$*

# The NBD acceptance: fio verifies random I/O for 60 s on each disk type.
NBD_FIO_RUNTIME ?= 60
export NBD_FIO_RUNTIME

test: test-deps
	$(GO) vet $(MODULES)
	$(GO) test -timeout 20m $(MODULES)
	python3 tests/conformance/sm.py --host
	$(MAKE) --no-print-directory race
	$(MAKE) --no-print-directory fuzz-smoke
	$(MAKE) --no-print-directory guest

test-deps:
	scripts/install-test-deps.sh

# The engine and the daemon under the race detector (the tests build the
# tapdisk they run with it too). fio runs 5 s here: the 60 s runs above
# already judge the data; this run is about the goroutines meeting.
race: test-deps
	NBD_FIO_RUNTIME=5 $(GO) test -race -timeout 20m ./libtap/... ./tapdisk/...

# A fixed number of executions of every fuzz target in the workspace:
# catches a crasher a change just introduced without turning `make test`
# into a fuzzing campaign (FUZZTIME=10m makes it one).
fuzz-smoke:
	scripts/fuzz-smoke.sh $(MODULES)

# The kernel block frontends (/dev/nbdN, /dev/ublkbN) in a Linux guest
# booted under QEMU: tests/guest/run.sh, harness in scripts/guest.
guest: test-deps
	tests/guest/run.sh

demo: build test-deps
	scripts/demo.sh

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINS:%=bin/%) $(DESTDIR)$(PREFIX)/bin/

clean:
	rm -rf bin

# Go benchmarks (libvhd's write paths, the request path, the NBD server),
# then fio over NBD: tapdisk beside qemu-nbd, nbdkit and the bare file;
# then the pauses of live snapshots and coalesces under load.
bench: build test-deps
	$(GO) test -run '^$$' -bench . -benchmem ./libvhd/... ./libtap/...
	BENCH_CACHE=direct scripts/bench-nbd.sh
	BENCH_CACHE=buffered scripts/bench-nbd.sh
	scripts/bench-nbd-backing.sh
	scripts/bench-coalesce.sh
	scripts/bench-live-coalesce.sh
	scripts/bench-guest.sh
