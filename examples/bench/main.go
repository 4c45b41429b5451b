// Command bench puts the built-in pure-Go engine side by side with onnxruntime: for each model and
// batch size it times both engines on the same ONNX file and the same inputs, and prints one table
// of median and p90 latency per call, their ratio (ours/ORT), and how closely the two engines'
// outputs agree (max |diff| and top-1 agreement).
//
//	go run ./examples/bench                          # the four testdata models, batch 1 and full
//	go run ./examples/bench -models m.onnx -data test.csv -batch 1,32,full
//	go run ./examples/bench -markdown > bench.md     # or -json for a machine-readable document
//
// Our engine is driven through the public tinyml package only; onnxruntime through
// onnxruntime-node (examples/bench/ort/bench.js, run with node: nothing of node is in the Go
// build). Both are timed in-process around their own run call: Go's time.Now around
// Session.Run, node's process.hrtime.bigint around `await session.run`, which includes the
// node binding's overhead, since that is part of what onnxruntime costs a node user. Each side
// makes its input tensors before timing. Work is split into rounds that alternate models and
// which engine goes first, so machine noise hits both.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// config is what the flags say.
type config struct {
	models     []string
	data       dataMap
	batches    []int // fullBatch marks the whole dataset
	reps       int   // timed calls per case at small batches
	repsFull   int   // timed calls per case at full batch and batches >= bigBatch
	warmup     int
	warmupFull int
	rounds     int
	threads    int
	ort        bool
	ortDir     string
	node, npm  string
	jsonOut    bool
	markdown   bool
	quiet      bool
	profile    int // steps per case to print from our engine's step profile; 0: none
}

// fullBatch stands for "the whole dataset in one call" in config.batches.
const fullBatch = 0

// bigBatch is the batch size from which -reps-full and -warmup-full apply.
const bigBatch = 64

func parseFlags(args []string, stderr io.Writer, root string) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var defModels []string
	for _, name := range []string{"digits_mlp", "digits_cnn", "fashion_dwcnn", "fashion_resnet"} {
		defModels = append(defModels, filepath.Join(root, "testdata", "models", name+".onnx"))
	}
	models := fs.String("models", strings.Join(defModels, ","), "comma-separated ONNX model paths")
	data := fs.String("data", "", "dataset for the models: one path for all of them, or a list `model=path,...` by model file name\n"+
		"(without .onnx); models not listed use the defaults: digits* → testdata/data/digits_test.csv,\n"+
		"fashion* → testdata/data/fashion_test.npz. CSV (label,f0,...), .npy (x.npy beside y.npy) or .npz")
	batches := fs.String("batch", "1,full", "comma-separated batch sizes; `full` is the whole dataset in one call")
	c := &config{}
	fs.IntVar(&c.reps, "reps", 300, "timed calls per engine and case at batch sizes below 64")
	fs.IntVar(&c.repsFull, "reps-full", 20, "timed calls per engine and case at full batch and batch sizes of 64 or more")
	fs.IntVar(&c.warmup, "warmup", 20, "untimed warm-up calls per engine, case and round at batch sizes below 64")
	fs.IntVar(&c.warmupFull, "warmup-full", 2, "untimed warm-up calls per engine, case and round at full and large batch sizes")
	fs.IntVar(&c.rounds, "rounds", 4, "split the timed calls into this many rounds, alternating models and which engine goes first")
	fs.IntVar(&c.threads, "threads", 1, "threads per inference call, both engines (ours: WithThreads; ORT: intraOpNumThreads)")
	fs.BoolVar(&c.ort, "ort", true, "also run onnxruntime (node); -ort=false times our engine alone")
	fs.StringVar(&c.ortDir, "ort-dir", filepath.Join(root, "examples", "bench", "ort"), "directory of bench.js and its package.json")
	fs.StringVar(&c.node, "node", "node", "node executable")
	fs.StringVar(&c.npm, "npm", "npm", "npm executable, used once to install onnxruntime-node when node_modules is missing")
	fs.BoolVar(&c.jsonOut, "json", false, "print one JSON document instead of the table")
	fs.BoolVar(&c.markdown, "markdown", false, "print the tables as Markdown")
	fs.BoolVar(&c.quiet, "q", false, "no progress on stderr")
	fs.IntVar(&c.profile, "profile", 0, "after measuring, time every step of our engine (Session.EnableProfile) and print the `N` costliest per case")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: go run ./examples/bench [flags]\n\n"+
			"Times the built-in Go engine and onnxruntime (node) on the same models and inputs.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: give models with -models a.onnx,b.onnx", fs.Arg(0))
	}
	c.models = splitList(*models)
	if len(c.models) == 0 {
		return nil, errors.New("-models is empty: give at least one .onnx path")
	}
	var err error
	if c.data, err = parseDataMap(*data, root); err != nil {
		return nil, err
	}
	if c.batches, err = parseBatches(*batches); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		v    int
		min  int
	}{{"reps", c.reps, 1}, {"reps-full", c.repsFull, 1}, {"warmup", c.warmup, 0}, {"warmup-full", c.warmupFull, 0}, {"rounds", c.rounds, 1}, {"threads", c.threads, 1}, {"profile", c.profile, 0}} {
		if f.v < f.min {
			return nil, fmt.Errorf("-%s is %d; it must be at least %d", f.name, f.v, f.min)
		}
	}
	if c.jsonOut && c.markdown {
		return nil, errors.New("-json and -markdown exclude each other: pick one")
	}
	return c, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseBatches reads "1,16,full".
func parseBatches(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		if f == "full" {
			out = append(out, fullBatch)
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-batch: %q is neither a positive whole number nor `full`", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("-batch is empty: give e.g. -batch 1,full")
	}
	return out, nil
}

// dataMap says which dataset feeds which model.
type dataMap struct {
	all    string            // one dataset for every model, when set
	byName map[string]string // model file name without .onnx → dataset
	root   string            // repository root, for the defaults
}

func parseDataMap(s, root string) (dataMap, error) {
	d := dataMap{byName: map[string]string{}, root: root}
	items := splitList(s)
	if len(items) == 1 && !strings.Contains(items[0], "=") {
		d.all = items[0]
		return d, nil
	}
	for _, it := range items {
		name, path, ok := strings.Cut(it, "=")
		if !ok || name == "" || path == "" {
			return d, fmt.Errorf("-data: %q is not model=path (give one path for all models, or model=path,... by model file name)", it)
		}
		d.byName[strings.TrimSuffix(name, ".onnx")] = path
	}
	return d, nil
}

// modelName is a model path's file name without .onnx.
func modelName(path string) string { return strings.TrimSuffix(filepath.Base(path), ".onnx") }

// For returns the dataset of a model.
func (d dataMap) For(modelPath string) (string, error) {
	name := modelName(modelPath)
	if d.all != "" {
		return d.all, nil
	}
	if p, ok := d.byName[name]; ok {
		return p, nil
	}
	switch {
	case strings.HasPrefix(name, "digits"):
		return filepath.Join(d.root, "testdata", "data", "digits_test.csv"), nil
	case strings.HasPrefix(name, "fashion"):
		return filepath.Join(d.root, "testdata", "data", "fashion_test.npz"), nil
	}
	return "", fmt.Errorf("no dataset for model %s: give -data PATH (or -data %s=PATH,...)", modelPath, name)
}

// repoRoot is the nearest directory above the working directory holding go.mod and testdata/, so
// the defaults work from anywhere in the checkout; "." when there is none.
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for {
		if fileExists(filepath.Join(dir, "go.mod")) && fileExists(filepath.Join(dir, "testdata", "models")) {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "."
		}
		dir = up
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr, repoRoot())
	if err != nil {
		return err
	}
	logOut := stderr
	if cfg.quiet {
		logOut = io.Discard
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{}))

	var ort *ortRunner
	if cfg.ort {
		if ort, err = newORTRunner(ctx, cfg, log); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "tinyml-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	rep := &report{Meta: newMeta(cfg)}
	if ort != nil {
		rep.Meta.ORTVersion, rep.Meta.NodeVersion = ort.versions(ctx)
	}
	b := &bench{cfg: cfg, ort: ort, log: log, tmp: tmp}
	if err := b.prepare(); err != nil {
		return err
	}
	rep.Meta.LoadAvgBefore = loadAvg()
	if err := b.measure(ctx); err != nil {
		return err
	}
	rep.Meta.LoadAvgAfter = loadAvg()
	if cfg.profile > 0 {
		if err := b.profile(ctx); err != nil {
			return err
		}
	}
	rep.Cases = b.results()
	rep.Loads = b.loads()
	switch {
	case cfg.jsonOut:
		return rep.writeJSON(stdout)
	case cfg.markdown:
		return rep.writeMarkdown(stdout)
	default:
		return rep.writeText(stdout)
	}
}

func newMeta(cfg *config) meta {
	return meta{
		GoVersion: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(),
		Threads: cfg.threads, Rounds: cfg.rounds, ORT: cfg.ort, ProfileTop: cfg.profile,
		Method: "per-call latency measured in-process by each engine around its own run call: " +
			"Go time.Now() around tinyml Session.Run; node process.hrtime.bigint() around " +
			"`await session.run(feeds)` (includes the node binding's overhead); input tensors made beforehand; " +
			"warm-up calls untimed; rounds alternate models and which engine goes first",
		ORTOptions: "intraOpNumThreads=threads, interOpNumThreads=1, graphOptimizationLevel=all, executionMode=sequential",
	}
}

// loadAvg is the 1-minute load average (Linux), or -1.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
