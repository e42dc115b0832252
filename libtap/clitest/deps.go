package clitest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

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
	if in := entries(graph, pkg, forbidden); len(in) > 0 {
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
