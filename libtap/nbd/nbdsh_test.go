package nbd_test

import (
	"os/exec"
	"testing"

	"gotap.dev/libvhd/vhdtest"
)

// nbdshHostile drives libnbd with its client-side checks off, so the bad
// requests reach the server; each must fail with the protocol's errno
// and leave the connection usable.
const nbdshHostile = `
import errno
h.set_strict_mode(0)
h.connect_uri(URI)
size = h.get_size()

def expect(what, fn, want):
    try:
        fn()
    except nbd.Error as e:
        if e.errnum != want:
            raise Exception("%s: errno %s; want %d" % (what, e.errnum, want))
        return
    raise Exception("%s: no error" % what)

expect("read past the end", lambda: h.pread(1024, size - 512), errno.EINVAL)
expect("write past the end", lambda: h.pwrite(b"x" * 512, size), errno.ENOSPC)
expect("misaligned read", lambda: h.pread(512, 100), errno.EINVAL)
expect("short read", lambda: h.pread(100, 0), errno.EINVAL)
expect("oversize read", lambda: h.pread(33 << 20, 0), errno.EINVAL)
expect("trim past the end", lambda: h.trim(4096, size), errno.EINVAL)
expect("zero past the end", lambda: h.zero(4096, size - 512), errno.ENOSPC)
h.pwrite(b"a" * 4096, 8192)
assert h.pread(4096, 8192) == b"a" * 4096, "read back after errors"
h.shutdown()
`

func TestNbdshStrictModeOff(t *testing.T) {
	vhdtest.RequireTool(t, "nbdsh")
	// nbdsh is `python3 -m nbd` with the first python3 on PATH, which
	// may lack the distribution's nbd module (pyenv); use the system's.
	py := "python3"
	if exec.Command(py, "-c", "import nbd").Run() != nil {
		py = "/usr/bin/python3"
	}
	s := serve(t, "ram:64M")
	vhdtest.Run(t, py, "-m", "nbd", "-c", "URI = '"+s.uri()+"'", "-c", nbdshHostile)
}
