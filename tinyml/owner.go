package tinyml

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// owner identifies the process executing a step ("host/pid/start"), so that a studio opening
// the same directory can tell a step another live process is running from one whose process
// died (which it then marks interrupted).
func owner() string {
	host, _ := os.Hostname()
	pid := os.Getpid()
	return fmt.Sprintf("%s/%d/%d", host, pid, procStart(pid))
}

// alive reports whether the owner recorded for a step is still running.
func alive(tok string) bool {
	parts := strings.Split(tok, "/")
	if len(parts) != 3 {
		return false
	}
	host, _ := os.Hostname()
	pid, err := strconv.Atoi(parts[1])
	if err != nil || parts[0] != host || pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return false // this process just opened the studio: nothing of it is running yet
	}
	if !processAlive(pid) {
		return false
	}
	start, _ := strconv.ParseInt(parts[2], 10, 64)
	return start == procStart(pid) // a reused pid has another start time
}

// procStart is the process start time in clock ticks since boot (Linux /proc), or 0.
func procStart(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields after it are plain.
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
