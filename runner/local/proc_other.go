//go:build !linux

package local

import "os/exec"

func setProcessGroup(*exec.Cmd) {}

func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Kill()
}

func peakRSS(interface{ SysUsage() any }) int64 { return 0 }
