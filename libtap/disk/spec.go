package disk

import (
	"fmt"
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
