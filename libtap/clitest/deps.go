package clitest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// vbdPkg is the engine's VBD package: it links the scheduler, the ring
// and every driver.
const vbdPkg = "gotap.dev/libtap/vbd"

// wireTypesInVBD are the packages that take the control protocol's wire
// types (vbd.Info, the state bits and names, error records) from
// libtap/vbd today. Their imports of vbd are a known gap that issue 14
// (item 1) closes by moving those types to a leaf package: while they
// are the only way into a forbidden package, LinksNone skips.
var wireTypesInVBD = []string{
	"gotap.dev/libtap/control",
	"gotap.dev/libtap/livesnap",
	"gotap.dev/libtap/tapscan",
	"gotap.dev/tap-ctl",
	"gotap.dev/tapmon",
	"gotap.dev/xmsnap",
}

// LinksNone checks that the command pkg (an import path) links no
// package at or below any of the import paths forbidden, and otherwise
// fails naming the imports through which they arrive.
func LinksNone(t *testing.T, pkg string, forbidden ...string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}} {{join .Imports " "}}`, pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	graph := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		graph[f[0]] = f[1:]
	}
	in := entries(graph, pkg, forbidden)
	switch {
	case len(in) == 0:
	case pending(in):
		t.Skipf("skipped until the control wire types leave vbd (issue 14, item 1; a known pending step, so skipped under CI=true too): %s reaches the engine only through %s",
			pkg, strings.Join(in, ", "))
	default:
		t.Errorf("%s links packages under %s, through %s", pkg, strings.Join(forbidden, ", "), strings.Join(in, ", "))
	}
}

// entries walks graph (each package's imports) from pkg without
// entering a forbidden package, and returns the imports that would
// enter one, as "importer → imported".
func entries(graph map[string][]string, pkg string, forbidden []string) []string {
	banned := func(p string) bool {
		return slices.ContainsFunc(forbidden, func(f string) bool { return p == f || strings.HasPrefix(p, f+"/") })
	}
	var in []string
	seen := map[string]bool{pkg: true}
	for queue := []string{pkg}; len(queue) > 0; queue = queue[1:] {
		for _, imp := range graph[queue[0]] {
			switch {
			case banned(imp):
				in = append(in, queue[0]+" → "+imp)
			case !seen[imp]:
				seen[imp] = true
				queue = append(queue, imp)
			}
		}
	}
	return in
}

// pending reports whether every entry is the known gap: an import of
// vbd by a package that takes the control wire types from it.
func pending(in []string) bool {
	return !slices.ContainsFunc(in, func(e string) bool {
		from, to, _ := strings.Cut(e, " → ")
		return to != vbdPkg || !slices.Contains(wireTypesInVBD, from)
	})
}
