package tinyml

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/tinymlaas/tinyml/internal/proc"
)

// owner identifies the process executing a step ("host/pid/start"), so that a studio opening
// the same directory can tell a step another live process is running from one whose process
// died (which it then marks interrupted).
func owner() string {
	host, _ := os.Hostname()
	pid := os.Getpid()
	return fmt.Sprintf("%s/%d/%d", host, pid, proc.Start(pid))
}

// alive reports whether the owner recorded for a step is still running.
func alive(tok string) bool {
	parts := strings.Split(tok, "/")
	if len(parts) != 3 {
		return false
	}
	host, _ := os.Hostname()
	pid, err := strconv.Atoi(parts[1])
	if err != nil || parts[0] != host || pid == os.Getpid() {
		return false // this process just opened the studio: nothing of it is running yet
	}
	start, _ := strconv.ParseInt(parts[2], 10, 64)
	return proc.Same(pid, start)
}
