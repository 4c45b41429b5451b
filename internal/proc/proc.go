// Package proc tells whether a process recorded earlier (by pid and start time) is still the same
// live process: how a restarted studio tells steps another process is running from steps whose
// process died.
package proc

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Start is the process's start time in clock ticks since boot (Linux /proc), or 0 where that is
// not known. With the pid it identifies a process across pid reuse.
func Start(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; the fields after it are plain.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseInt(f[19], 10, 64) // field 22 overall
	return v
}

// Same reports whether pid is alive and started at start (0: start time unknown, not checked).
func Same(pid int, start int64) bool {
	if pid <= 0 || !alive(pid) {
		return false
	}
	return start == 0 || start == Start(pid)
}
