package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ortRunner runs examples/bench/ort/bench.js with node: onnxruntime-node stays out of the Go
// build and is reached through os/exec only.
type ortRunner struct {
	dir, node string
	threads   int
}

// installHint is the command that installs onnxruntime-node by hand. ONNXRUNTIME_NODE_INSTALL=skip
// stops its install script from fetching CUDA files (which fails offline); the CPU library ships
// in the npm package.
func installHint(dir string) string {
	return fmt.Sprintf("cd %s && ONNXRUNTIME_NODE_INSTALL=skip npm install", dir)
}

// newORTRunner checks node and bench.js, and installs onnxruntime-node when node_modules lacks it.
func newORTRunner(ctx context.Context, cfg *config, log *slog.Logger) (*ortRunner, error) {
	dir, err := filepath.Abs(cfg.ortDir)
	if err != nil {
		return nil, err
	}
	if !fileExists(filepath.Join(dir, "bench.js")) {
		return nil, fmt.Errorf("%s has no bench.js: point -ort-dir at examples/bench/ort, or pass -ort=false to time our engine alone", dir)
	}
	node, err := exec.LookPath(cfg.node)
	if err != nil {
		return nil, fmt.Errorf("node not found (%w): install Node.js 18 or newer (Debian: apt-get install nodejs npm), give -node PATH, or pass -ort=false", err)
	}
	if !fileExists(filepath.Join(dir, "node_modules", "onnxruntime-node", "package.json")) {
		log.Info("installing onnxruntime-node (once)", "dir", dir, "command", installHint(dir))
		npm, err := exec.LookPath(cfg.npm)
		if err != nil {
			return nil, fmt.Errorf("onnxruntime-node is not installed and npm was not found (%w): install npm, then run: %s", err, installHint(dir))
		}
		cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "ONNXRUNTIME_NODE_INSTALL=skip")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("npm install of onnxruntime-node failed (%w):\n%s\nfix the cause, then run: %s (or pass -ort=false)",
				err, strings.TrimSpace(out.String()), installHint(dir))
		}
	}
	return &ortRunner{dir: dir, node: node, threads: cfg.threads}, nil
}

// versions returns onnxruntime-node's and node's versions, "" where unknown.
func (o *ortRunner) versions(ctx context.Context) (ort, node string) {
	if b, err := exec.CommandContext(ctx, o.node, "--version").Output(); err == nil {
		node = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(filepath.Join(o.dir, "node_modules", "onnxruntime-node", "package.json")); err == nil {
		var p struct{ Version string }
		if json.Unmarshal(b, &p) == nil {
			ort = p.Version
		}
	}
	return ort, node
}

// ortResult is what bench.js prints.
type ortResult struct {
	Version    string      `json:"ort_version"`
	LoadNS     int64       `json:"load_ns"`
	InputName  string      `json:"input_name"`
	InputShape []int       `json:"input_shape"`
	Latencies  []int64     `json:"latencies_ns"`
	CPU        []int64     `json:"cpu_us"` // process CPU time (user+system) per call
	Outputs    []ortOutput `json:"outputs"`
}

type ortOutput struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Dims []int  `json:"dims"`
	Data []byte `json:"data"` // base64 in the JSON
}

// ortCall is one bench.js invocation.
type ortCall struct {
	model, input string // absolute paths; input is a float32 .npy of every sample
	batch        int
	warmup, reps int
	check        bool // run every distinct batch once first and return the outputs
}

func (o *ortRunner) run(ctx context.Context, c ortCall) (*ortResult, error) {
	check := "0"
	if c.check {
		check = "1"
	}
	args := []string{filepath.Join(o.dir, "bench.js"),
		"--model", c.model, "--input", c.input,
		"--batch", strconv.Itoa(c.batch), "--warmup", strconv.Itoa(c.warmup), "--reps", strconv.Itoa(c.reps),
		"--threads", strconv.Itoa(o.threads), "--check", check}
	cmd := exec.CommandContext(ctx, o.node, args...)
	cmd.Dir = o.dir
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		msg := strings.TrimSpace(stderr.String())
		if strings.Contains(msg, "Cannot find module 'onnxruntime-node'") {
			msg += "\ninstall it with: " + installHint(o.dir)
		}
		return nil, fmt.Errorf("onnxruntime on %s at batch %d (node %s): %w\n%s", filepath.Base(c.model), c.batch, strings.Join(args, " "), err, msg)
	}
	var r ortResult
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("onnxruntime on %s: reading bench.js output: %w", filepath.Base(c.model), err)
	}
	if len(r.Latencies) != c.reps {
		return nil, errors.New("bench.js returned a wrong number of latencies")
	}
	return &r, nil
}

// outputs converts bench.js's outputs to the common form.
func (r *ortResult) outputs() ([]output, error) {
	var outs []output
	for _, o := range r.Outputs {
		v, err := toFloat64(o.Type, o.Data)
		if err != nil {
			return nil, fmt.Errorf("onnxruntime output %q: %w", o.Name, err)
		}
		outs = append(outs, output{Name: o.Name, DType: o.Type, Dims: o.Dims, Values: v})
	}
	return outs, nil
}
