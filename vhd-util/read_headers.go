package main

import (
	"fmt"
	"strings"
	"time"

	"gotap.dev/libvhd"
)

// field is one "Label : value" line of read -p; section is a titled group.
type field struct{ label, value string }

type section struct {
	title  string
	fields []field
}

// headers prints blktap's "VHD Footer Summary" and the sections after it.
func (c *readCmd) headers(r *report, im *libvhd.Image) error {
	secs := []section{footerSection(im.Footer())}
	if h, ok := im.Header(); ok {
		secs = append(secs, headerSection(h))
		if im.Type() == libvhd.Differencing {
			secs = append(secs, locatorSection(h, im.Locators()))
		}
	}
	if bh, bits, ok := im.Batmap(); ok {
		secs = append(secs, section{"VHD Batmap Summary", []field{
			{"Batmap offset", fmt.Sprint(bh.MapOffset)},
			{"Batmap size (secs)", fmt.Sprint(bh.MapSectors)},
			{"Batmap version", fmt.Sprintf("0x%08x", bh.Version)},
			{"Checksum", checksumText(bh.Checksum, bh.ComputedChecksum(bits))},
			{"Marker", fmt.Sprint(bh.Marker)},
		}})
	}
	var text strings.Builder
	doc := map[string]map[string]string{}
	for i, s := range secs {
		if i > 0 {
			text.WriteString("\n")
		}
		fmt.Fprintf(&text, "%s:\n%s\n", s.title, strings.Repeat("-", len(s.title)+1))
		doc[s.title] = map[string]string{}
		for _, f := range s.fields {
			fmt.Fprintf(&text, "%-20s: %s\n", f.label, f.value)
			doc[s.title][strings.TrimSpace(f.label)] = f.value
		}
	}
	r.add("headers", doc, text.String())
	return nil
}

func footerSection(f libvhd.Footer) section {
	g := f.Geometry
	features := fmt.Sprintf("(0x%08x)", f.Features)
	if f.Features&libvhd.FeatureReserved != 0 {
		features += " <RESV>"
	}
	if f.Features&libvhd.FeatureTemporary != 0 {
		features += " <TEMP>"
	}
	return section{"VHD Footer Summary", []field{
		{"Cookie", strings.TrimRight(string(f.Cookie[:]), "\x00")},
		{"Features", features},
		{"File format version", fmt.Sprintf("Major: %d, Minor: %d", f.Version>>16, f.Version&0xFFFF)},
		{"Data offset", fmt.Sprint(int64(f.DataOffset))},
		{"Timestamp", vhdTime(f.Timestamp)},
		{"Creator Application", fmt.Sprintf("'%s'", strings.TrimRight(string(f.CreatorApp[:]), "\x00 "))},
		{"Creator version", fmt.Sprintf("Major: %d, Minor: %d", f.CreatorVersion>>16, f.CreatorVersion&0xFFFF)},
		{"Creator OS", creatorOS(f.CreatorOS)},
		{"Original disk size", sizeText(int64(f.OriginalSize))},
		{"Current disk size", sizeText(int64(f.CurrentSize))},
		{"Geometry", fmt.Sprintf("Cyl: %d, Hds: %d, Sctrs: %d", g.Cylinders, g.Heads, g.Sectors)},
		{"", "= " + sizeText(g.Bytes())},
		{"Disk type", diskType(f.Type)},
		{"Checksum", checksumText(f.Checksum, f.ComputedChecksum())},
		{"UUID", f.UUID.String()},
		{"Saved state", map[bool]string{true: "Yes", false: "No"}[f.SavedState != 0]},
		{"Hidden", fmt.Sprint(f.Hidden)},
	}}
}

func headerSection(h libvhd.Header) section {
	return section{"VHD Header Summary", []field{
		{"Cookie", string(h.Cookie[:])},
		{"Data offset (unusd)", fmt.Sprint(h.NextOffset)},
		{"Table offset", fmt.Sprint(h.TableOffset)},
		{"Header version", fmt.Sprintf("0x%08x", h.Version)},
		{"Max BAT size", fmt.Sprint(h.MaxTableEntries)},
		{"Block size", fmt.Sprintf("%d (%d MB)", h.BlockSize, h.BlockSize>>20)},
		{"Parent name", h.ParentNameString()},
		{"Parent UUID", h.ParentUUID.String()},
		{"Parent timestamp", vhdTime(h.ParentTimestamp)},
		{"Checksum", checksumText(h.Checksum, h.ComputedChecksum())},
	}}
}

func locatorSection(h libvhd.Header, decoded []libvhd.LocatorPath) section {
	s := section{title: "VHD Parent Locators"}
	for i, l := range h.Locators {
		if l.Code == libvhd.LocatorNone {
			continue
		}
		name := ""
		for _, d := range decoded {
			if d.Slot == i {
				name = d.Path()
			}
		}
		s.fields = append(s.fields,
			field{"locator:", fmt.Sprint(i)},
			field{"       code", "PLAT_CODE_" + strings.ToUpper(l.CodeName())},
			field{"       data_space", fmt.Sprint(l.DataSpace)},
			field{"       data_length", fmt.Sprint(l.DataLen)},
			field{"       data_offset", fmt.Sprint(l.DataOffset)},
			field{"       decoded name", name})
	}
	return s
}

func vhdTime(ts uint32) string { return libvhd.TimeOf(ts).Format(time.ANSIC) }

func sizeText(n int64) string { return fmt.Sprintf("%d MB (%d Bytes)", n>>20, n) }

func checksumText(stored, computed uint32) string {
	verdict := "Good!"
	if stored != computed {
		verdict = "Bad!"
	}
	return fmt.Sprintf("0x%08x|0x%08x (%s)", stored, computed, verdict)
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

func diskType(t libvhd.DiskType) string {
	switch t {
	case libvhd.Fixed:
		return "Fixed hard disk"
	case libvhd.Dynamic:
		return "Dynamic hard disk"
	case libvhd.Differencing:
		return "Differencing hard disk"
	}
	return fmt.Sprintf("Unknown (%d)", uint32(t))
}
