// Package vbd is one virtual block device: an image chain opened through
// a driver, the ring its frontends submit into, the scheduler, its stats
// and its lifecycle (open, pause, resume, close) with blktap's states.
package vbd

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers"
	"gotap.dev/libtap/filter/valve"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/sched"
	"gotap.dev/libtap/slowopen"
	"gotap.dev/libtap/stats"
)

// DefaultOpenTimeout bounds an image's open when the caller sets none.
const DefaultOpenTimeout = 30 * time.Second

// Options for Open.
type Options struct {
	Drivers   drivers.Options
	RingSlots int // default 352, as blktap's aio pool
	SlotBuf   int // bytes preallocated per slot (default 128 KiB)
	Sched     sched.Config
	// ReopenTries and ReopenGap: how Resume retries opening the image
	// (blktap: 10 tries, 1 s apart).
	ReopenTries int
	ReopenGap   time.Duration
	// OpenTimeout bounds each reopen (default 30 s): an image that hangs
	// (a server that stopped answering, a FIFO) fails the Resume with
	// ETIMEDOUT instead of holding the VBD forever.
	OpenTimeout time.Duration
	// StuckAfter: the watchdog logs requests in flight for longer
	// (default 10 s, as blktap).
	StuckAfter time.Duration
	// OpenDriver opens an image (default drivers.Open); tests stack
	// fault-injecting drivers here.
	OpenDriver func(spec string, opts drivers.Options) (disk.Driver, error)
	Logger     *slog.Logger
}

func (o *Options) defaults() {
	if o.RingSlots <= 0 {
		o.RingSlots = 352
	}
	if o.SlotBuf <= 0 {
		o.SlotBuf = 128 << 10
	}
	if o.ReopenTries <= 0 {
		o.ReopenTries = 10
	}
	if o.ReopenGap <= 0 {
		o.ReopenGap = time.Second
	}
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = DefaultOpenTimeout
	}
	if o.StuckAfter <= 0 {
		o.StuckAfter = 10 * time.Second
	}
	if o.OpenDriver == nil {
		o.OpenDriver = drivers.Open
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// VBD is an open virtual block device.
type VBD struct {
	minor int
	opts  Options
	log   *slog.Logger
	ring  *ring.Ring
	sched *sched.Scheduler
	stats stats.Counters
	state atomic.Uint32
	// size is the disk's size: Resume may grow it (a chain resized
	// while paused), never shrink it. Read by Submit without a lock.
	size   atomic.Int64
	start  time.Time
	errors recentErrors
	// budget is what a valve layer of the chain enforces: the VBD's, so
	// that limits changed live outlast the reopens of pause and resume.
	budget *valve.Budget

	// chain is what is served. Resume swaps it while requests are being
	// checked against its capabilities, so it is read atomically.
	chain atomic.Pointer[chain]

	// life serialises the lifecycle (pause, resume, close): a channel,
	// so that waiting for it honours the caller's context.
	life chan struct{}

	// kept is the driver a pause kept open (its contents live only in
	// this process: ram) for Resume to take back; under life.
	kept disk.Driver
	// served is the driver serving the chain, nil while paused or
	// closed; under life. job is the coalesce running on it, if any:
	// set under life, read by Info without it.
	served disk.Driver
	job    atomic.Pointer[job]
	// opening guards Resume's opens: at most one that hangs at a time.
	opening slowopen.Guard

	// fence keeps Submit and Close apart: Submit holds it shared while it
	// queues a request, Close takes it to set closed, so every request
	// either reaches the scheduler before it stops or is refused.
	// closed is written under life and fence, and read under either.
	fence  sync.RWMutex
	closed bool

	stopWatch chan struct{} // closed by Close: the watchdog ends
	shut      chan struct{} // closed once Close has finished, shutErr set
	shutErr   error
}

// chain is an opened image chain: its name, what its driver can do,
// whether a valve layer limits it, and the driver's per-image request
// counts if it keeps them (safe to read after the driver is closed).
type chain struct {
	spec    string
	parsed  disk.Chain
	caps    disk.Caps
	counter disk.Counter
}

func newChain(spec string, drv disk.Driver) *chain {
	c, _ := disk.ParseChain(spec) // opened, so valid
	counter, _ := disk.Find[disk.Counter](drv)
	return &chain{spec: spec, parsed: c, caps: drv.Caps(), counter: counter}
}

// Open opens spec and starts serving it as minor.
func Open(minor int, spec string, opts Options) (*VBD, error) {
	opts.defaults()
	budget := valve.NewBudget()
	opts.Drivers.Valve = budget
	rg := ring.New(opts.RingSlots, opts.SlotBuf)
	opts.Drivers.Buffers = rg.Memory()
	drv, err := opts.OpenDriver(spec, opts.Drivers)
	if err != nil {
		return nil, err
	}
	log := opts.Logger.With("minor", minor)
	v := &VBD{
		minor: minor, opts: opts, log: log, ring: rg,
		start: time.Now(), budget: budget, served: drv,
		life:      make(chan struct{}, 1),
		stopWatch: make(chan struct{}),
		shut:      make(chan struct{}),
	}
	v.size.Store(drv.Size())
	caps := drv.Caps()
	v.chain.Store(newChain(spec, drv))
	cfg := opts.Sched
	cfg.Logger = log
	cfg.Failed = v.errors.addIO
	v.sched = sched.New(drv, &v.stats, opts.RingSlots, cfg)
	go v.watchdog()
	log.Info("vbd open", "image", spec, "size", v.Size(), "direct", caps.Direct, "engine", caps.Engine, "read_only", caps.ReadOnly)
	return v, nil
}

func (v *VBD) Minor() int                { return v.minor }
func (v *VBD) Size() int64               { return v.size.Load() }
func (v *VBD) Ring() *ring.Ring          { return v.ring }
func (v *VBD) State() wire.State         { return wire.State(v.state.Load()) }
func (v *VBD) setState(s wire.State)     { v.state.Store(uint32(s)) }
func (v *VBD) Counters() *stats.Counters { return &v.stats }

// Spec is the image chain being served, as type:path.
func (v *VBD) Spec() string { return v.chain.Load().spec }

// Caps are the driver's capabilities.
func (v *VBD) Caps() disk.Caps { return v.chain.Load().caps }
