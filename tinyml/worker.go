package tinyml

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tinymlaas/tinyml/internal/dataset"
	"github.com/tinymlaas/tinyml/internal/onnx"
	"github.com/tinymlaas/tinyml/internal/worker"
)

// workerEnvVar marks a process the studio started to execute one step.
const workerEnvVar = "TINYML_WORKER"

// WorkerMain turns this process into a step worker when a studio started it as one, and returns
// otherwise. Programs that open a Studio with the default local runner call it first thing in
// main (and tests in TestMain): the studio runs each step as a child process of the same
// executable, so one binary is all a deployment needs.
func WorkerMain() {
	if os.Getenv(workerEnvVar) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := worker.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, workerDeps())
	stop()
	os.Exit(code)
}

// RunWorker runs the worker with explicit arguments (the entrypoint of worker binaries and
// inference images) and returns its exit code.
func RunWorker(ctx context.Context, args []string) int {
	return worker.Main(ctx, args, os.Stdout, os.Stderr, workerDeps())
}

func workerDeps() worker.Deps {
	return worker.Deps{Compiler: catalogue{}}
}

// catalogue adapts the compression catalogue to the worker.
type catalogue struct{}

func (catalogue) Compile(_ context.Context, m *onnx.Model, technique string, _ *dataset.Dataset) (*onnx.Model, error) {
	if technique != "none" && technique != "" {
		return nil, fmt.Errorf("technique %q is not in the catalogue", technique)
	}
	return m, nil
}

// canonicalTechnique validates a compression spec and returns its canonical text.
func canonicalTechnique(spec string, haveCalib bool) (string, error) {
	s := strings.TrimSpace(spec)
	if s == "" {
		return "none", nil
	}
	if s != "none" {
		return "", fmt.Errorf("compression %q: unknown technique (see tinyml catalogue)", spec)
	}
	_ = haveCalib
	return s, nil
}

// DemoTechniques is a spread of catalogue entries, from lossless to aggressive, for demos.
func DemoTechniques() []string { return []string{"none"} }
