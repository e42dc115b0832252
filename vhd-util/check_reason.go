package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gotap.dev/libvhd"
)

// blktapOrder is the order in which blktap's check looks at the
// structures: it reports the first problem it meets, and libvhd's Check
// lists them in another order (the locators before the BAT).
var blktapOrder = []string{"file", "footer", "footer copy", "header", "bat", "bitmap", "batmap", "locator", "parent"}

// firstProblem is the problem blktap's check would meet first.
func firstProblem(problems []libvhd.Problem) libvhd.Problem {
	rank := func(p libvhd.Problem) int {
		family, _, _ := strings.Cut(p.Structure, "[")
		if family == "locator" && strings.HasSuffix(p.Msg, "on a dynamic disk") {
			family = "header" // blktap's differencing-header check
		}
		return slices.Index(blktapOrder, family)
	}
	first := problems[0]
	for _, p := range problems[1:] {
		if rank(p) < rank(first) {
			first = p
		}
	}
	return first
}

// blktapReason is the one line blktap's check prints for the first
// problem it meets, in its words; problems it has no words for keep
// gotap's, after blktap's prefix for their structure.
func blktapReason(p libvhd.Problem) string {
	family, index, _ := strings.Cut(strings.TrimSuffix(p.Structure, "]"), "[")
	for _, r := range reasons {
		if r.family != family {
			continue
		}
		if m := r.match.FindStringSubmatch(p.Msg); m != nil {
			return r.text(index, m)
		}
	}
	switch family {
	case "file", "footer":
		return "primary footer invalid: " + p.Msg
	case "footer copy":
		return "backup footer invalid: " + p.Msg
	case "header":
		return "header is invalid: " + p.Msg
	case "batmap":
		return "batmap is invalid: " + p.Msg
	case "locator":
		return fmt.Sprintf("invalid parent locator %s: %s", index, p.Msg)
	}
	return p.Msg
}

// reason turns the problems of one kind into blktap's line: index is the
// structure's ("2" of "locator[2]"), m the message's submatches.
type reason struct {
	family string
	match  *regexp.Regexp
	text   func(index string, m []string) string
}

// says is a reason with a fixed line.
func says(family, match, line string) reason {
	return reason{family, regexp.MustCompile(match), func(string, []string) string { return line }}
}

// sector is a byte offset in hex as blktap prints a BAT entry: sectors.
func sector(hexBytes string) string {
	n, _ := strconv.ParseInt(strings.TrimPrefix(hexBytes, "0x"), 16, 64)
	return fmt.Sprintf("%#x", n/libvhd.SectorSize)
}

var reasons = []reason{
	says("file", `too short for a footer`, "primary footer invalid: invalid cookie"),
	says("footer", `cookie`, "primary footer invalid: invalid cookie"),
	says("footer", `checksum`, "primary footer invalid: invalid checksum"),
	says("footer", `lack the reserved bit`, "primary footer invalid: invalid 'reserved' feature"),
	says("footer", `unknown feature bits`, "primary footer invalid: invalid extra features"),
	says("footer", `^version`, "primary footer invalid: invalid file format version"),
	says("footer", `^data offset`, "primary footer invalid: invalid data offset"),
	says("footer", `^timestamp .* in the future`, "primary footer invalid: creation time in future"),
	says("footer", `^geometry`, "primary footer invalid: geometry too large"),
	says("footer", `^disk type`, "primary footer invalid: invalid type"),
	says("footer", `^saved state`, "primary footer invalid: invalid 'saved' state"),
	says("footer", `^hidden`, "primary footer invalid: invalid 'hidden' state"),
	says("footer", `^reserved byte`, "primary footer invalid: invalid 'reserved' bits"),
	says("footer", `^null unique id`, "primary footer invalid: invalid (NULL) uuid"),
	says("footer copy", `differs from the EOF footer`, "primary and backup footers do not match"),
	says("footer copy", `cookie`, "backup footer invalid: invalid cookie"),
	says("footer copy", `checksum`, "backup footer invalid: invalid checksum"),
	says("header", `^BAT at`, "header is invalid: invalid table offset"),
	says("header", `cookie`, "header is invalid: invalid cookie"),
	says("header", `checksum`, "header is invalid: invalid checksum"),
	says("header", `version`, "header is invalid: invalid header version"),
	says("header", `next offset`, "header is invalid: invalid data offset"),
	says("header", `block size`, "header is invalid: invalid block size"),
	says("header", `neither a parent name nor a parent locator`, "differencing header is invalid: invalid parent name"),
	says("header", `^parent UUID .* on a dynamic disk`, "differencing header is invalid: invalid non-null parent uuid"),
	says("header", `^parent name .* on a dynamic disk`, "differencing header is invalid: invalid non-null parent name"),
	says("locator", `on a dynamic disk`, "differencing header is invalid: invalid non-null parent locators"),
	{"bat", regexp.MustCompile(`^block (\d+) at (0x[0-9a-f]+)-0x[0-9a-f]+ overlaps block (\d+) at (0x[0-9a-f]+)`), func(_ string, m []string) string {
		return fmt.Sprintf("block %s (offset %s) clobbers block %s (offset %s)", m[1], sector(m[2]), m[3], sector(m[4]))
	}},
	{"bat", regexp.MustCompile(`^block (\d+) at (0x[0-9a-f]+)-0x[0-9a-f]+ overlaps the`), func(_ string, m []string) string {
		return fmt.Sprintf("block %s (offset %s) clobbers headers", m[1], sector(m[2]))
	}},
	{"bat", regexp.MustCompile(`^block (\d+) at (0x[0-9a-f]+)-0x[0-9a-f]+ runs past the EOF footer`), func(_ string, m []string) string {
		return fmt.Sprintf("block %s (offset %s) clobbers footer", m[1], sector(m[2]))
	}},
	{"batmap", regexp.MustCompile(`^block (\d+) is marked full but is not allocated`), func(_ string, m []string) string {
		return fmt.Sprintf("batmap shows unallocated block %s full", m[1])
	}},
	says("batmap", `^cookie`, "batmap is invalid: invalid cookie"),
	says("batmap", `^version`, "batmap is invalid: unsupported batmap version"),
	says("batmap", `^checksum`, "batmap is invalid: invalid checksum"),
	says("batmap", `^map of`, "batmap is invalid: batmap-BAT size mismatch"),
	{"bitmap", regexp.MustCompile(`^sector 0x[0-9a-f]+ of block 0x[0-9a-f]+ has data where bitmap is clear$`), func(_ string, m []string) string {
		return m[0] // blktap's own words
	}},
	{"locator", regexp.MustCompile(`^unknown platform code`), func(i string, _ []string) string {
		return fmt.Sprintf("invalid parent locator %s: invalid platform code", i)
	}},
	{"locator", regexp.MustCompile(`^platform code (\S+) repeats`), func(i string, m []string) string {
		return fmt.Sprintf("duplicate platform code in locator %s: %s", i, m[1])
	}},
	{"locator", regexp.MustCompile(`^data (length|at)`), func(i string, _ []string) string {
		return fmt.Sprintf("invalid parent locator %s: invalid size", i)
	}},
	{"locator", regexp.MustCompile(`^\S+ names (.+?): .*(parent not found|no such file)`), func(i string, m []string) string {
		return fmt.Sprintf("parent locator %s points to missing file %s", i, m[1])
	}},
	{"locator", regexp.MustCompile(`^\S+ names (.+?): .*parent UUID mismatch`), func(_ string, m []string) string {
		return fmt.Sprintf("invalid parent %s: invalid parent uuid", m[1])
	}},
	{"parent", regexp.MustCompile(`parent UUID mismatch`), func(string, []string) string {
		return "invalid parent: invalid parent uuid"
	}},
	{"parent", regexp.MustCompile(`^parent not found: "(.*)"`), func(_ string, m []string) string {
		return fmt.Sprintf("could not find parent %s", m[1])
	}},
}
