//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// detachProcess starts the child in its own session so it outlives this command.
func detachProcess(c *exec.Cmd) { c.SysProcAttr = &syscall.SysProcAttr{Setsid: true} }
