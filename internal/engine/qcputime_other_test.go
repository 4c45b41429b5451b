//go:build !unix

package engine_test

func processCPU() (int64, bool) { return 0, false }
