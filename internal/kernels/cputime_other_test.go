//go:build !linux

package kernels

func threadCPU() (ns int64, ok bool) { return 0, false }
