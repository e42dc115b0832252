package main

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"gotap.dev/libvhd"
)

// field is one "Label : value" line of read -p; section is a titled group
// of them, or of groups (the parent locators).
type field struct{ label, value string }

type section struct {
	title  string
	groups [][]field
}

// headers prints blktap's summaries: each group of lines is followed by a
// blank line (each section, and each parent locator within its section).
func (c *readCmd) headers(r *report, im *libvhd.Image) error {
	secs := []section{{"VHD Footer Summary", [][]field{c.footerFields(im.Footer())}}}
	if h, ok := im.Header(); ok {
		secs = append(secs, section{"VHD Header Summary", [][]field{c.headerFields(h)}})
		if im.Type() == libvhd.Differencing {
			secs = append(secs, section{"VHD Parent Locators", c.locatorFields(h, im.Locators())})
		}
	}
	if bh, bits, ok := im.Batmap(); ok {
		secs = append(secs, section{"VHD Batmap Summary", [][]field{{
			{"Batmap offset", c.unum(bh.MapOffset)},
			{"Batmap size (secs)", c.num(int64(bh.MapSectors))},
			{"Batmap version", fmt.Sprintf("0x%08x", bh.Version)},
			{"Checksum", checksumText(bh.Checksum, bh.ComputedChecksum(bits))},
		}}})
	}
	text, doc := render(secs)
	r.add("headers", doc, text)
	return nil
}

// render is the sections as blktap prints them, and as a JSON document.
func render(secs []section) (string, map[string]any) {
	var text strings.Builder
	doc := map[string]any{}
	for _, s := range secs {
		fmt.Fprintf(&text, "%s:\n%s\n", s.title, strings.Repeat("-", len(s.title)+1))
		var groups []map[string]string
		for _, g := range s.groups {
			m := map[string]string{}
			for _, f := range g {
				fmt.Fprintf(&text, "%-20s: %s\n", f.label, f.value)
				m[strings.TrimSpace(f.label)] = f.value
			}
			text.WriteString("\n")
			groups = append(groups, m)
		}
		if len(groups) == 1 && s.title != "VHD Parent Locators" {
			doc[s.title] = groups[0]
		} else {
			doc[s.title] = groups
		}
	}
	return text.String(), doc
}

func (c *readCmd) footerFields(f libvhd.Footer) []field {
	g := f.Geometry
	features := fmt.Sprintf("(0x%08x) ", f.Features)
	if f.Features&libvhd.FeatureTemporary != 0 {
		features += "<TEMP>"
	}
	if f.Features&libvhd.FeatureReserved != 0 {
		features += "<RESV>"
	}
	chs := int64(g.Cylinders) * int64(g.Heads) * int64(g.Sectors)
	return []field{
		{"Cookie", cString(f.Cookie[:])},
		{"Features", features},
		{"File format version", fmt.Sprintf("Major: %d, Minor: %d", f.Version>>16, f.Version&0xFFFF)},
		{"Data offset", c.unum(f.DataOffset)},
		{"Timestamp", vhdTime(f.Timestamp)},
		{"Creator Application", fmt.Sprintf("'%s'", cString(f.CreatorApp[:]))},
		{"Creator version", fmt.Sprintf("Major: %d, Minor: %d", f.CreatorVersion>>16, f.CreatorVersion&0xFFFF)},
		{"Creator OS", creatorOS(f.CreatorOS)},
		{"Original disk size", c.sizeText(int64(f.OriginalSize))},
		{"Current disk size", c.sizeText(int64(f.CurrentSize))},
		{"Geometry", fmt.Sprintf("Cyl: %s, Hds: %s, Sctrs: %s", c.num(int64(g.Cylinders)), c.num(int64(g.Heads)), c.num(int64(g.Sectors)))},
		{"", "= " + c.sizeText(chs<<9)},
		{"Disk type", diskType(f.Type)},
		{"Checksum", checksumText(f.Checksum, f.ComputedChecksum())},
		{"UUID", f.UUID.String()},
		{"Saved state", map[bool]string{true: "Yes", false: "No"}[f.SavedState != 0]},
		{"Hidden", fmt.Sprint(f.Hidden)},
	}
}

func (c *readCmd) headerFields(h libvhd.Header) []field {
	return []field{
		{"Cookie", cString(h.Cookie[:])},
		{"Data offset (unusd)", c.unum(h.NextOffset)},
		{"Table offset", c.num(int64(h.TableOffset))},
		{"Header version", fmt.Sprintf("0x%08x", h.Version)},
		{"Max BAT size", c.num(int64(h.MaxTableEntries))},
		{"Block size", fmt.Sprintf("%s (%s MB)", c.num(int64(h.BlockSize)), c.num(int64(h.BlockSize>>20)))},
		{"Parent name", h.ParentNameString()},
		{"Parent UUID", h.ParentUUID.String()},
		{"Parent timestamp", vhdTime(h.ParentTimestamp)},
		{"Checksum", checksumText(h.Checksum, h.ComputedChecksum())},
	}
}

// locatorFields is one group per locator in use, with its decoded name.
func (c *readCmd) locatorFields(h libvhd.Header, decoded []libvhd.LocatorPath) [][]field {
	var out [][]field
	for i, l := range h.Locators {
		if l.Code == libvhd.LocatorNone {
			continue
		}
		name := field{"       decoded name", ""}
		for _, d := range decoded {
			if d.Slot == i {
				name.value = d.Path()
			}
		}
		out = append(out, []field{
			{"locator:", fmt.Sprint(i)},
			{"       code", "PLAT_CODE_" + strings.ToUpper(l.CodeName())},
			{"       data_space", c.num(int64(l.DataSpace))},
			{"       data_length", c.num(int64(l.DataLen))},
			{"       data_offset", c.unum(l.DataOffset)},
			name,
		})
	}
	return out
}

// vhdTime is C's ctime, as blktap prints timestamps (local time).
func vhdTime(ts uint32) string { return libvhd.TimeOf(ts).Local().Format(time.ANSIC) }

func (c *readCmd) sizeText(n int64) string {
	return fmt.Sprintf("%s MB (%s Bytes)", c.num(n>>20), c.num(n))
}

// cString is a fixed-size field as C's %s prints it: up to its first NUL.
func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func checksumText(stored, computed uint32) string {
	verdict := "Good!"
	if stored != computed {
		verdict = "Bad!"
	}
	return fmt.Sprintf("%#x|%#x (%s)", stored, computed, verdict)
}

func creatorOS(os uint32) string {
	switch os {
	case 0x5769326B:
		return "Windows"
	case 0x4D616320:
		return "Macintosh"
	}
	return "Unknown!"
}

// diskTypes are blktap's names of the footer's disk types.
var diskTypes = []string{"None", "Reserved (deprecated)", "Fixed hard disk", "Dynamic hard disk",
	"Differencing hard disk", "Reserved (deprecated)", "Reserved (deprecated)"}

func diskType(t libvhd.DiskType) string {
	if int(t) < len(diskTypes) {
		return diskTypes[t]
	}
	return "Unknown type!\n" // sic: blktap's line ends blank
}
