package tinyml

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/tinymlaas/tinyml/compress"
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
	return worker.Deps{Compiler: catalogue{}, Load: compress.LoadModel}
}

// catalogue adapts the compression catalogue to the worker's compile step.
type catalogue struct{}

func (catalogue) Compile(ctx context.Context, m *onnx.Model, technique string, calib *dataset.Dataset) (*worker.Compiled, error) {
	chain, err := compress.Parse(technique)
	if err != nil {
		return nil, err
	}
	a, err := compress.Compile(ctx, m, chain, compress.Options{Calib: calib})
	if err != nil {
		return nil, err
	}
	c := &worker.Compiled{
		ONNX: a.ONNX, Packed: a.Packed, Params: a.Figures.Params, NonZeroParams: a.Figures.NonZeroParams,
		MACs: a.Figures.MACs, GzipBytes: a.Figures.GzipBytes, ArenaBytes: a.Figures.ArenaBytes,
	}
	for _, n := range a.Notes {
		c.Notes = append(c.Notes, n.String())
	}
	return c, nil
}

// canonicalTechnique validates a compression spec against the catalogue and returns its
// canonical text; techniques that calibrate need a calibration set.
func canonicalTechnique(spec string, haveCalib bool) (string, error) {
	if strings.TrimSpace(spec) == "" {
		spec = "none"
	}
	chain, err := compress.Parse(spec)
	if err != nil {
		return "", err
	}
	if err := chain.Validate(); err != nil {
		return "", err
	}
	for _, st := range chain {
		if t, err := compress.Lookup(st.Technique); err == nil && t.Calibrates && !haveCalib {
			return "", fmt.Errorf("compression %q: %s calibrates on data; give a calibration set (--calib, Matrix.Calib)", chain, t.Name)
		}
	}
	return chain.String(), nil
}

// DemoTechniques is a spread of catalogue entries, from lossless to aggressive, for demos.
func DemoTechniques() []string {
	return []string{"none", "fp16", "int8-dynamic", "int8-static", "prune(sparsity=0.5)", "cluster(bits=4)", "prune(sparsity=0.5) | int8-static | cluster"}
}
