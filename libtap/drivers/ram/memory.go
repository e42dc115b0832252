package ram

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A RAM disk takes its memory when it opens (see Open), so the memory
// must be there: a disk larger than what the system, and this process's
// cgroup, have free would bring the OOM killer onto the whole tapdisk and
// every disk it serves. So Open refuses it with ENOMEM.
//
// Free is the smallest of /proc/meminfo's MemAvailable (free memory plus
// what the kernel can reclaim: page cache, reclaimable slabs) and, for
// every cgroup from ours up, its limit less its usage that cannot be
// reclaimed (usage less inactive file pages); cgroup v2 (memory.max,
// memory.high) and v1 (memory.limit_in_bytes) alike. The RAM disks
// already open have taken their memory, so they are counted in those
// figures. Of free, keepBack stays for the tapdisk itself and the rest of
// the system.

// keepBack is the memory left free: 1/32 of the machine's, at least
// 64 MiB.
func keepBack(total int64) int64 { return max(64<<20, total/32) }

// system reads the memory figures under root ("/", or a fake tree in
// tests).
type system struct{ root string }

func (s system) path(p string) string { return filepath.Join(s.root, p) }

// free is the memory an allocation may take, and the machine's total.
func (s system) free() (free, total int64, err error) {
	mi, err := s.meminfo()
	if err != nil {
		return 0, 0, fmt.Errorf("free memory: %w", err)
	}
	free, total = mi["MemAvailable"], mi["MemTotal"]
	for _, dir := range s.cgroupDirs() {
		if room, ok := cgroupRoom(dir); ok {
			free = min(free, room)
		}
	}
	return max(free, 0), total, nil
}

// meminfo is /proc/meminfo in bytes.
func (s system) meminfo() (map[string]int64, error) {
	b, err := os.ReadFile(s.path("/proc/meminfo"))
	if err != nil {
		return nil, err
	}
	m := make(map[string]int64)
	for line := range strings.Lines(string(b)) {
		key, rest, ok := strings.Cut(line, ":")
		f := strings.Fields(rest)
		if !ok || len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			n <<= 10
		}
		m[key] = n
	}
	if _, ok := m["MemAvailable"]; !ok {
		return nil, errors.New("/proc/meminfo has no MemAvailable")
	}
	return m, nil
}

// cgroupDirs are the memory cgroup directories of this process and of
// every cgroup above it, up to the hierarchy's mount point; none when
// they cannot be found (no cgroup file system mounted).
func (s system) cgroupDirs() []string {
	cg, err := os.ReadFile(s.path("/proc/self/cgroup"))
	if err != nil {
		return nil
	}
	mi, err := os.ReadFile(s.path("/proc/self/mountinfo"))
	if err != nil {
		return nil
	}
	var dirs []string
	for line := range strings.Lines(string(cg)) {
		// "ID:CONTROLLERS:PATH": v2 is "0::PATH", v1 names "memory".
		f := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(f) != 3 {
			continue
		}
		v2 := f[0] == "0" && f[1] == ""
		if !v2 && !hasWord(f[1], "memory") {
			continue
		}
		mnt, mroot, ok := cgroupMount(mi, v2)
		if !ok {
			continue
		}
		rel, ok := strings.CutPrefix(f[2], mroot)
		if !ok { // outside the mounted part (another namespace): its top
			rel = ""
		}
		top := s.path(mnt)
		for dir := filepath.Join(top, rel); ; dir = filepath.Dir(dir) {
			dirs = append(dirs, dir)
			if len(dir) <= len(top) {
				break
			}
		}
	}
	return dirs
}

// cgroupMount finds, in a mountinfo, the mount point of the cgroup v2
// hierarchy or of v1's memory controller, and the cgroup mounted there.
func cgroupMount(mountinfo []byte, v2 bool) (mnt, root string, ok bool) {
	for line := range bytes.Lines(mountinfo) {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [TAGS...] - FSTYPE SOURCE SUPEROPTIONS
		pre, post, found := strings.Cut(string(line), " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !found || len(f) < 5 || len(g) < 1 {
			continue
		}
		switch {
		case v2 && g[0] == "cgroup2",
			!v2 && g[0] == "cgroup" && len(g) >= 3 && hasWord(g[2], "memory"):
			return unescape(f[4]), unescape(f[3]), true
		}
	}
	return "", "", false
}

// hasWord: is w one of list's comma-separated words?
func hasWord(list, w string) bool {
	for x := range strings.SplitSeq(list, ",") {
		if x == w {
			return true
		}
	}
	return false
}

// unescape undoes mountinfo's octal escapes (`\040` for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupRoom is what a cgroup may still take: its limit less the usage
// that cannot be reclaimed. ok is false for a cgroup with no limit (or
// no memory controller files).
func cgroupRoom(dir string) (room int64, ok bool) {
	limit, usage, inactiveKey := "memory.max", "memory.current", "inactive_file" // v2
	if _, err := os.Stat(filepath.Join(dir, limit)); errors.Is(err, fs.ErrNotExist) {
		limit, usage, inactiveKey = "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file" // v1
	}
	lim, ok := readLimit(filepath.Join(dir, limit))
	if high, hok := readLimit(filepath.Join(dir, "memory.high")); hok && (!ok || high < lim) {
		lim, ok = high, true
	}
	if !ok {
		return 0, false
	}
	used, uok := readLimit(filepath.Join(dir, usage))
	if !uok {
		return 0, false
	}
	return lim - max(used-statValue(filepath.Join(dir, "memory.stat"), inactiveKey), 0), true
}

// unlimited is where a limit means none: v1 writes 2^63 less a page.
const unlimited = 1 << 62

// readLimit reads a one-number cgroup file; false for "max", an
// unlimited value, or no file.
func readLimit(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n >= unlimited {
		return 0, false
	}
	return n, true
}

// statValue is one key of a memory.stat file, 0 if absent.
func statValue(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), " "); ok && k == key {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// checkFree refuses size with ENOMEM when it is more than the memory
// free for it.
func (s system) checkFree(size int64) error {
	free, total, err := s.free()
	if err != nil {
		return err
	}
	keep := keepBack(total)
	if size > free-keep {
		return fmt.Errorf("%s is more than the memory free for it (%s free, of which %s is kept back for the system): %w",
			mib(size), mib(free), mib(keep), syscall.ENOMEM)
	}
	return nil
}

// mib writes a byte count for people.
func mib(n int64) string {
	if n >= 10<<30 {
		return strconv.FormatInt(n>>30, 10) + " GiB"
	}
	return strconv.FormatInt(n>>20, 10) + " MiB"
}
