package ram

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// fakeHost writes files under a temporary root, by path.
func fakeHost(t *testing.T, files map[string]string) system {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return system{root: root}
}

const (
	meminfo8G = "MemTotal:        8388608 kB\nMemFree:          1048576 kB\nMemAvailable:    4194304 kB\n"
	v2Mounts  = "25 1 0:22 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw\n"
	v1Mounts  = "30 25 0:26 / /sys/fs/cgroup/memory rw shared:9 - cgroup cgroup rw,memory\n" +
		"31 25 0:27 / /sys/fs/cgroup/cpu rw shared:10 - cgroup cgroup rw,cpu\n"
)

func TestFree(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  int64
	}{
		{"no cgroup", map[string]string{"proc/meminfo": meminfo8G}, 4 << 30},
		{"v2 unlimited", map[string]string{
			"proc/meminfo": meminfo8G, "proc/self/cgroup": "0::/vm.slice/tap\n", "proc/self/mountinfo": v2Mounts,
			"sys/fs/cgroup/vm.slice/tap/memory.max": "max\n", "sys/fs/cgroup/vm.slice/tap/memory.current": "1000\n",
		}, 4 << 30},
		{"v2 limit less unreclaimable usage", map[string]string{
			"proc/meminfo": meminfo8G, "proc/self/cgroup": "0::/vm.slice/tap\n", "proc/self/mountinfo": v2Mounts,
			"sys/fs/cgroup/vm.slice/tap/memory.max":     "1073741824\n",
			"sys/fs/cgroup/vm.slice/tap/memory.current": "536870912\n",
			"sys/fs/cgroup/vm.slice/tap/memory.stat":    "anon 100\ninactive_file 268435456\nactive_file 5\n",
		}, 1<<30 - (512<<20 - 256<<20)},
		{"v2 memory.high below max", map[string]string{
			"proc/meminfo": meminfo8G, "proc/self/cgroup": "0::/tap\n", "proc/self/mountinfo": v2Mounts,
			"sys/fs/cgroup/tap/memory.max": "max\n", "sys/fs/cgroup/tap/memory.high": "104857600\n",
			"sys/fs/cgroup/tap/memory.current": "0\n",
		}, 100 << 20},
		{"v2 limit on a parent", map[string]string{
			"proc/meminfo": meminfo8G, "proc/self/cgroup": "0::/vm.slice/tap\n", "proc/self/mountinfo": v2Mounts,
			"sys/fs/cgroup/vm.slice/memory.max": "2147483648\n", "sys/fs/cgroup/vm.slice/memory.current": "1073741824\n",
			"sys/fs/cgroup/vm.slice/tap/memory.max": "max\n", "sys/fs/cgroup/vm.slice/tap/memory.current": "0\n",
		}, 1 << 30},
		{"v1 limit", map[string]string{
			"proc/meminfo": meminfo8G, "proc/self/cgroup": "9:cpu:/x\n4:memory:/box\n0::/\n", "proc/self/mountinfo": v1Mounts,
			"sys/fs/cgroup/memory/box/memory.limit_in_bytes": "3221225472\n",
			"sys/fs/cgroup/memory/box/memory.usage_in_bytes": "2147483648\n",
			"sys/fs/cgroup/memory/box/memory.stat":           "cache 5\ninactive_file 1\ntotal_inactive_file 1073741824\n",
		}, 2 << 30},
		{"v1 unlimited (2^63 less a page)", map[string]string{
			"proc/meminfo": meminfo8G, "proc/self/cgroup": "4:memory:/box\n", "proc/self/mountinfo": v1Mounts,
			"sys/fs/cgroup/memory/box/memory.limit_in_bytes": "9223372036854771712\n",
			"sys/fs/cgroup/memory/box/memory.usage_in_bytes": "2147483648\n",
		}, 4 << 30},
		{"over the limit", map[string]string{
			"proc/meminfo": meminfo8G, "proc/self/cgroup": "0::/tap\n", "proc/self/mountinfo": v2Mounts,
			"sys/fs/cgroup/tap/memory.max": "1000\n", "sys/fs/cgroup/tap/memory.current": "5000\n",
		}, 0},
		{"mount point with a space", map[string]string{
			"proc/meminfo": meminfo8G, "proc/self/cgroup": "0::/tap\n",
			"proc/self/mountinfo":          `25 1 0:22 / /cg\040v2 rw - cgroup2 cgroup2 rw` + "\n",
			"cg v2/tap/memory.max":         "1048576\n",
			"cg v2/tap/memory.current":     "0\n",
			"sys/fs/cgroup/tap/memory.max": "1\n", // not the mount point: ignored
		}, 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			free, total, err := fakeHost(t, tt.files).free()
			if err != nil || free != tt.want || total != 8<<30 {
				t.Errorf("free() = %d, %d, %v; want %d, %d", free, total, err, tt.want, int64(8<<30))
			}
		})
	}
}

func TestCheckFree(t *testing.T) {
	s := fakeHost(t, map[string]string{"proc/meminfo": meminfo8G}) // 4 GiB free, 256 MiB kept back
	tests := []struct {
		size int64
		want error
	}{
		{1 << 30, nil},
		{4<<30 - 256<<20, nil},
		{4<<30 - 256<<20 + 512, syscall.ENOMEM},
		{100 << 30, syscall.ENOMEM},
	}
	for _, tt := range tests {
		if err := s.checkFree(tt.size); !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
			t.Errorf("checkFree(%d) = %v; want %v", tt.size, err, tt.want)
		}
	}
	if _, _, err := fakeHost(t, map[string]string{"proc/meminfo": "MemTotal: 1 kB\n"}).free(); err == nil {
		t.Error("free() without MemAvailable: no error")
	}
}
