package main

import (
	"context"
	"crypto/tls"
	"fmt"

	"gotap.dev/libtap/nbd"
)

// startTCP starts the --tcp listener, if asked for; the task is its
// Serve.
func startTCP(ctx context.Context, d *daemon, f *flags) (*task, error) {
	if f.TCP == "" {
		return nil, nil
	}
	var cfg *tls.Config
	if f.TLSCert != "" {
		var err error
		if cfg, err = nbd.ServerTLS(f.TLSCert, f.TLSKey, f.TLSCA); err != nil {
			return nil, err
		}
	}
	ln, err := nbd.ListenTCP(f.tcpAddr(), cfg)
	if err != nil {
		return nil, err
	}
	// Serve would refuse a listener whose clients go unverified without
	// --tcp-insecure; flags.check has refused such a command line.
	opts := d.limits
	opts.Logger, opts.TLS, opts.TLSRequired, opts.InsecureTCP = d.log, cfg, cfg != nil, f.TCPInsecure
	d.tcp = nbd.NewServer(opts)
	// Not ctx: shutdown stops it (stopTCP), after the control socket.
	served := goTask("tcp server", func() error { return d.tcp.Serve(context.WithoutCancel(ctx), ln) })
	d.log.Info("serving over tcp", "addr", ln.Addr().String(), "tls", cfg != nil, "client_certificates", f.TLSCA != "")
	return served, nil
}

// stopTCP lets the TCP clients' requests in flight complete and closes
// their connections.
func stopTCP(d *daemon, served *task) error {
	if d.tcp == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := d.tcp.Shutdown(ctx)
	if serr := served.wait(shutdownGrace); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("stop tcp: %w", err)
	}
	return nil
}
