package algorithms

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// CheckMemory returns a ClientError when need bytes, what a job's
// hyperparameters make it allocate (said by what), exceed this host's
// memory: an allocation that large fails as Go's "out of memory" fatal
// error, which exits 2 with no failure file. A host whose memory cannot be
// read passes.
func CheckMemory(need int64, what string) error {
	total := hostMemory()
	if total <= 0 || need <= total {
		return nil
	}
	return Errorf("%s needs at least %s of memory, more than this host's %s", what, bytesText(need), bytesText(total))
}

// hostMemory is the container's memory limit (cgroup v2, then v1) when
// it is below the machine's, else MemTotal from /proc/meminfo; 0 when
// neither can be read.
func hostMemory() int64 {
	var total int64
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				total = kb << 10
				break
			}
		}
		f.Close()
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && n > 0 && (total == 0 || n < total) {
			total = n
		}
		break
	}
	return total
}

// bytesText is n in GB (or MB below one GB), one decimal.
func bytesText(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
}
