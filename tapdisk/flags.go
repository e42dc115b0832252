package main

import (
	"io"
	"net"
	"time"

	"gotap.dev/libtap/cli"
	"gotap.dev/libtap/control"
	"gotap.dev/libtap/disk"
)

// flags are tapdisk's command line; doc.go has the man page.
type flags struct {
	RunDir        string        `name:"run-dir" placeholder:"DIR" help:"Run directory for the control and NBD sockets (default: $BLKTAP_RUN_DIR, else /run/blktap-control for root, else $XDG_RUNTIME_DIR/blktap-control)."`
	ReadOnly      bool          `short:"R" help:"Open the images given read-only."`
	NoDirect      bool          `short:"D" help:"Buffered I/O instead of O_DIRECT (aio and vhd images)."`
	Timeout       int           `short:"t" default:"120" placeholder:"SECS" help:"Give up retrying a request after SECS seconds."`
	OpenTimeout   time.Duration `name:"open-timeout" default:"30s" placeholder:"DURATION" help:"Give up opening an image (and each reopen of an unpause) after DURATION: an image on a server that stopped answering, or a FIFO, then fails with ETIMEDOUT instead of holding its minor; what opens later is closed at once."`
	TCP           string        `name:"tcp" placeholder:"ADDR" help:"Also serve every minor over NBD on TCP, export name = minor number, to clients with a certificate from --tls-ca only (needs --tls-cert, --tls-key, --tls-ca, or --tcp-insecure). An ADDR without a host (:10809) is loopback."`
	TLSCert       string        `name:"tls-cert" type:"existingfile" placeholder:"FILE" help:"TLS certificate for --tcp (PEM)."`
	TLSKey        string        `name:"tls-key" type:"existingfile" placeholder:"FILE" help:"TLS private key for --tcp (PEM)."`
	TLSCA         string        `name:"tls-ca" type:"existingfile" placeholder:"FILE" help:"CA certificates (PEM) for --tcp: a client must present a certificate one of them signed. Anyone holding such a certificate reads and writes every disk, so use a CA of its own."`
	TCPInsecure   bool          `name:"tcp-insecure" help:"Let --tcp serve clients it does not authenticate: in clear on loopback, or with --tls-cert but no --tls-ca. INSECURE: any local user (and, with TLS beyond loopback, anyone who can reach ADDR) can then read and write every disk."`
	MaxConns      int           `name:"max-conns" default:"64" placeholder:"N" help:"Connections served at once by each NBD listener (each minor's socket, and --tcp); one more is closed at once, so that no client can take the file descriptors others need."`
	MaxCtlConns   int           `name:"max-control-conns" default:"16" placeholder:"N" help:"Connections served at once on the control socket; one more is closed at once."`
	Handshake     time.Duration `name:"handshake-timeout" default:"10s" placeholder:"DURATION" help:"Hang up an NBD client that has not finished negotiating DURATION after connecting (a connected client may then stay idle)."`
	LogFile       string        `placeholder:"FILE" help:"Log to FILE (appending) instead of stderr."`
	LogLevel      string        `default:"info" enum:"debug,info,warn,error" help:"Least severe messages logged: debug, info, warn or error."`
	LogFormat     string        `default:"text" enum:"text,json" help:"Log as text or JSON lines."`
	RingSlots     int           `default:"352" help:"Requests in flight per minor (blktap: 352)."`
	Depth         int           `default:"32" help:"Concurrent I/O operations per minor."`
	DeferMetadata bool          `name:"defer-metadata" help:"VHD images: keep the metadata of new writes (sector bitmaps, block table) in memory until the client flushes or --flush-interval passes. Faster writes to new sectors, but a write acknowledged since the last flush is lost if tapdisk is killed. Default: metadata reaches the file before a write is acknowledged, so acknowledged writes survive kill -9."`
	FlushInterval time.Duration `name:"flush-interval" default:"5s" placeholder:"DURATION" help:"VHD images: make written data durable at least this often when the client does not flush (0: only when asked). Bounds what a power cut (or, with --defer-metadata, a crash) can take."`
	ParentDirs    []string      `name:"parent-dir" sep:"none" placeholder:"DIR" help:"VHD images: also accept parents anywhere under DIR (repeatable), beside the child's own folder and those of $GOTAP_PARENT_DIRS (colon-separated); block devices (an LVM volume group's /dev/VG) only there. Other parents are refused, so that an image cannot make tapdisk serve another file or disk."`
	Frontend      string        `default:"none" enum:"none,nbd,ublk" help:"Also serve each image as a kernel block device: nbd is the kernel's NBD client (/dev/nbdN; modprobe nbd), ublk the kernel's ublk driver (/dev/ublkbN; modprobe ublk_drv), none the NBD socket only. The device's path is printed after the image's NBD URI."`
	Device        string        `placeholder:"DEV" help:"With --frontend: the device to take (/dev/nbd3, /dev/ublkb3), for one image; default: the kernel picks a free one."`
	Recover       bool          `help:"With --frontend and --device: reattach the image to the device a tapdisk that died (kill -9) left waiting: requests it held go on, none fails, if this comes within the request timeout (-t) of its death."`
	NBDConns      int           `name:"nbd-conns" default:"2" placeholder:"N" help:"Connections of each kernel NBD device (--frontend nbd): the kernel spreads requests over them."`
	IdlePoll      time.Duration `name:"idle-poll" default:"100us" placeholder:"DURATION" help:"How long an NBD connection with every request answered spins for the client's next one before sleeping, while its client comes back within that (queue depth 1): a CPU that goes idle wakes up slowly, in a VM most of all (4 KiB page-cache reads: p50 110 µs sleeping, 35 µs spinning). Costs up to a CPU while such a client runs, one window when it slows down; 0: never spin."`
	Procs         int           `default:"1" help:"Threads running Go code at once (GOMAXPROCS; the environment's GOMAXPROCS wins). 1, like blktap's single-threaded tapdisk, is fastest: hand-offs between goroutines stay on one thread, and I/O that blocks still runs on threads of its own."`
	Images        []string      `arg:"" optional:"" name:"TYPE:PATH" help:"Images to serve, each on the lowest free minor: vhd:/srv/vm.vhd, aio:/dev/sdb, ram:64M; filter layers go before, each NAME:OPTIONS: (valve:rbps=20M:vhd:/srv/vm.vhd)."`
}

const description = `Serve virtual disks from user space (blktap's tapdisk, with NBD as the frontend).

Opens every image, each on the lowest free minor of the run directory, then
prints its control socket's path and each image's NBD URI, one per line (if an
image fails: nothing on stdout, exit 1, the run directory left as it was):

  $ tapdisk vhd:/srv/vm.vhd &
  /run/blktap-control/ctl4242
  nbd+unix:///?socket=/run/blktap-control/nbd4242.0
  $ nbdinfo 'nbd+unix:///?socket=/run/blktap-control/nbd4242.0'

--frontend nbd also makes each image a kernel block device (the kernel's NBD
client, as root), printed after its URI; a tapdisk killed leaves the device
waiting, and one started with --recover on the same image takes it over
without an I/O error, within -t seconds:

  $ tapdisk --frontend nbd vhd:/srv/vm.vhd &
  /run/blktap-control/ctl4242
  nbd+unix:///?socket=/run/blktap-control/nbd4242.0
  /dev/nbd0
  $ tapdisk --frontend nbd --device /dev/nbd0 --recover vhd:/srv/vm.vhd

--frontend ublk does the same through the kernel's ublk driver (/dev/ublkbN),
whose device waits for a --recover however long it takes.

Filter layers stack over an image, outermost first, each NAME:OPTIONS: with
OPTIONS key=value pairs separated by commas (or none):

  valve:rbps=20M,wbps=20M,riops=500,wiops=500,burst=1s:vhd:/srv/vm.vhd
      rate limits, bytes and requests a second (0: none), changed live
      with tap-ctl rate
  error:errno=EIO,ops=read+write,rate=0.01,range=1M-2M,file=/run/fail:ram:64M
      fail the requests chosen (by probability, byte range, while a file
      exists) with an errno
  delay:read=10ms,write=10ms,rate=0.1,range=…,file=…:aio:/dev/sdb
      hold the requests chosen that long

tap-ctl controls it over the control socket. SIGTERM or SIGINT: in-flight
requests complete, images are closed (VHD footers written), sockets removed,
exit 0.`

// parse reads the command line: cli.ErrHelp once --help is printed, a
// cli.ErrUsage error for a refused one.
func parse(args []string, stdout, stderr io.Writer) (f flags, err error) {
	if _, err := cli.Parse("tapdisk", description, &f, args, stdout, stderr); err != nil {
		return f, err
	}
	return f, f.check()
}

// check refuses what kong cannot: bad images, numbers, TCP without
// client authentication.
func (f *flags) check() error {
	for _, img := range f.Images {
		if _, err := disk.ParseChain(img); err != nil {
			return cli.Usagef("%w", err)
		}
	}
	switch {
	case f.Timeout <= 0:
		return cli.Usagef("--timeout %d: want seconds > 0", f.Timeout)
	case f.OpenTimeout <= 0:
		return cli.Usagef("--open-timeout %v: want a duration > 0", f.OpenTimeout)
	case f.FlushInterval < 0:
		return cli.Usagef("--flush-interval %v: want a duration >= 0", f.FlushInterval)
	case f.IdlePoll < 0:
		return cli.Usagef("--idle-poll %v: want a duration >= 0", f.IdlePoll)
	case f.RingSlots <= 0 || f.Depth <= 0 || f.Procs <= 0:
		return cli.Usagef("--ring-slots, --depth and --procs must be > 0")
	case f.MaxConns <= 0 || f.MaxCtlConns <= 0:
		return cli.Usagef("--max-conns and --max-control-conns must be > 0")
	case f.Handshake <= 0:
		return cli.Usagef("--handshake-timeout %v: want a duration > 0", f.Handshake)
	case f.NBDConns <= 0:
		return cli.Usagef("--nbd-conns %d: want connections > 0", f.NBDConns)
	case f.Frontend == control.FrontendNone && (f.Device != "" || f.Recover):
		return cli.Usagef("--device and --recover need --frontend %s or %s", control.FrontendNBD, control.FrontendUblk)
	case f.Recover && f.Device == "":
		return cli.Usagef("--recover needs the --device to recover")
	case f.Device != "" && len(f.Images) != 1:
		return cli.Usagef("--device takes one image, not %d", len(f.Images))
	}
	return f.checkTCP()
}

// checkTCP refuses a --tcp that would let in clients nobody vouched for,
// unless --tcp-insecure says so, and TLS flags that would do nothing.
func (f *flags) checkTCP() error {
	switch {
	case (f.TLSCert == "") != (f.TLSKey == ""):
		return cli.Usagef("--tls-cert and --tls-key go together")
	case f.TCP == "" && (f.TLSCert != "" || f.TLSCA != "" || f.TCPInsecure):
		return cli.Usagef("--tls-cert, --tls-key, --tls-ca and --tcp-insecure need --tcp")
	case f.TLSCA != "" && f.TLSCert == "":
		return cli.Usagef("--tls-ca needs --tls-cert and --tls-key")
	case f.TLSCA != "" && f.TCPInsecure:
		return cli.Usagef("--tls-ca verifies clients, --tcp-insecure says not to: give one")
	case f.TCP != "" && f.TLSCA == "" && !f.TCPInsecure:
		return cli.Usagef("--tcp needs --tls-cert, --tls-key and --tls-ca (clients must present a certificate), or --tcp-insecure to let any local user read and write every disk")
	}
	return nil
}

// tcpAddr is --tcp with loopback as the default host.
func (f *flags) tcpAddr() string {
	host, port, err := net.SplitHostPort(f.TCP)
	if err != nil || host != "" {
		return f.TCP // nbd.ListenTCP reports a malformed address
	}
	return net.JoinHostPort("127.0.0.1", port)
}
