package disk

import (
	"fmt"
	"slices"
	"strings"
)

// Spec is blktap's `type:path` naming of an image: `vhd:/srv/a.vhd`,
// `aio:/dev/sdb`, `ram:64M`, `nbd:unix:/run/x.sock`, `nbd:host:10809`.
type Spec struct {
	Type string
	Path string
}

// Types this project serves.
var Types = []string{"aio", "vhd", "ram", "nbd"}

// ParseSpec splits and checks a type:path string.
func ParseSpec(s string) (Spec, error) {
	typ, path, ok := strings.Cut(s, ":")
	if !ok || typ == "" || path == "" {
		return Spec{}, fmt.Errorf("image %q: want TYPE:PATH, e.g. vhd:/srv/disk.vhd (types: %s)", s, strings.Join(Types, ", "))
	}
	for _, t := range Types {
		if t == typ {
			return Spec{Type: typ, Path: path}, nil
		}
	}
	return Spec{}, fmt.Errorf("image %q: unknown type %q (types: %s)", s, typ, strings.Join(Types, ", "))
}

func (s Spec) String() string { return s.Type + ":" + s.Path }

// Filters are the layers a spec may stack over an image (see package
// filter).
var Filters = []string{"valve", "error", "delay"}

// Layer is one filter of a chain, with its options as written
// ("rbps=20M,wbps=20M").
type Layer struct {
	Filter  string
	Options string
}

// Chain is an image with filter layers over it, outermost first:
// `valve:rbps=20M:error:rate=0.01:vhd:/srv/a.vhd` is a valve over an
// error filter over vhd:/srv/a.vhd. Each layer is NAME:OPTIONS:, OPTIONS
// being key=value pairs separated by commas, possibly none
// (`valve::vhd:/srv/a.vhd`), and holding no colon. A plain type:path is
// a chain of no layers.
type Chain struct {
	Layers []Layer
	Image  Spec
}

// ParseChain splits and checks a spec with its filter layers; the
// filters check their own options when they open.
func ParseChain(s string) (Chain, error) {
	var c Chain
	rest := s
	for {
		name, after, _ := strings.Cut(rest, ":")
		if !slices.Contains(Filters, name) {
			break
		}
		opts, inner, ok := strings.Cut(after, ":")
		if !ok {
			return Chain{}, fmt.Errorf("image %q: filter %s: want %s:OPTIONS:TYPE:PATH (OPTIONS may be empty)", s, name, name)
		}
		c.Layers = append(c.Layers, Layer{Filter: name, Options: opts})
		rest = inner
	}
	img, err := ParseSpec(rest)
	switch {
	case err != nil && len(c.Layers) > 0:
		return Chain{}, fmt.Errorf("image %q under its filters: %w", s, err)
	case err != nil:
		return Chain{}, err
	}
	c.Image = img
	return c, nil
}

// Has reports whether the chain has a layer of filter.
func (c Chain) Has(filter string) bool {
	return slices.ContainsFunc(c.Layers, func(l Layer) bool { return l.Filter == filter })
}

func (c Chain) String() string {
	var b strings.Builder
	for _, l := range c.Layers {
		b.WriteString(l.Filter + ":" + l.Options + ":")
	}
	return b.String() + c.Image.String()
}
