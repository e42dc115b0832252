package main

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libvhd/vhdtest"
)

// TestErrorFilterUnderFio: fio writes and verifies every block over NBD
// through an error filter. Injected EIO on reads reaches fio as EIO, and
// never as data that fails verification; the VBD's recent_errors show
// them. Injected EAGAIN is retried by the scheduler as blktap retries
// (a second apart), and fio sees no error at all.
func TestErrorFilterUnderFio(t *testing.T) {
	if testing.Short() {
		t.Skip("fio runs for seconds")
	}
	ctx := context.Background()
	fioArgs := []string{"--iodepth=16", "--numjobs=2", "--size=32M", "--offset_increment=32M", "--runtime=5"}

	t.Run("EIO", func(t *testing.T) {
		p := start(t, t.TempDir(), []string{"error:errno=EIO,ops=read,rate=0.001:ram:64M"})
		// Read errors are counted and gone past; a verify mismatch still
		// fails fio, and RunFio with it.
		rep := vhdtest.RunFio(t, p.uris[0], slices.Concat(vhdtest.FioVerify, fioArgs, []string{"--continue_on_error=read"})...)
		t.Logf("fio: %d errors, the first errno %d", rep.Errors, rep.FirstError)
		if rep.Errors == 0 || syscall.Errno(rep.FirstError) != syscall.EIO {
			t.Errorf("fio saw %d errors, the first errno %d; want EIO errors", rep.Errors, rep.FirstError)
		}
		info, err := p.client(t).Stats(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		if info.Stats.Errors == 0 || !recentEIO(info) {
			t.Errorf("stats: errors %d, recent_errors %+v; want the injected EIOs", info.Stats.Errors, info.Errors)
		}
	})

	t.Run("EAGAIN", func(t *testing.T) {
		p := start(t, t.TempDir(), []string{"error:errno=EAGAIN,rate=0.0005:ram:64M"})
		vhdtest.StartFio(t, p.uris[0], fioArgs...).Wait(t) // fails on any error
		info, err := p.client(t).Stats(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("stats: %d retries", info.Stats.Retries)
		if info.Stats.Retries == 0 || info.Stats.Errors != 0 || len(info.Errors) != 0 {
			t.Errorf("stats: retries %d, errors %d, recent_errors %+v; want retries and no error", info.Stats.Retries, info.Stats.Errors, info.Errors)
		}
	})
}

// recentEIO reports whether info's recent errors are all injected EIOs,
// and there are some.
func recentEIO(info wire.Info) bool {
	for _, e := range info.Errors {
		if !strings.HasPrefix(e.Message, "read of ") || !strings.HasSuffix(e.Message, "injected by the error filter: input/output error") {
			return false
		}
	}
	return len(info.Errors) > 0
}
