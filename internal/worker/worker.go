// Package worker executes one pipeline step inside a job: it reads the step's spec from the run
// volume, does the work (compile: optimise + compress + figures; inference: run the installed
// model over the test set and measure), and writes the result back. It is what the local runner
// starts as a child process and what the Docker runner's image runs, so it must not depend on
// anything outside the volume.
package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tinymlaas/tinyml/internal/dataset"
	"github.com/tinymlaas/tinyml/internal/engine"
	"github.com/tinymlaas/tinyml/internal/jobspec"
	"github.com/tinymlaas/tinyml/internal/measure"
	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Spec is what a step job is asked to do; it lives at <volume>/<step>/spec.json. Paths are
// relative to the volume.
type Spec struct {
	Step      string `json:"step"`
	Model     string `json:"model"`
	Dataset   string `json:"dataset,omitempty"`
	Calib     string `json:"calib,omitempty"`
	Technique string `json:"technique,omitempty"`
	Out       string `json:"out,omitempty"` // compile: where to write the compiled model
	Batch     int    `json:"batch,omitempty"`
	Repeat    int    `json:"repeat,omitempty"`
	Threads   int    `json:"threads,omitempty"`
}

// Result is what a step job reports; it lives at <volume>/<step>/result.json.
type Result struct {
	OK      bool     `json:"ok"`
	Error   string   `json:"error,omitempty"`
	Metrics *Metrics `json:"metrics,omitempty"`
}

// Metrics are a run's measured figures: the compile step fills the static ones, the inference
// step the measured ones.
type Metrics struct {
	// Measured on the device by the inference step.
	Samples    int             `json:"samples,omitempty"`
	Correct    int             `json:"correct,omitempty"`
	Accuracy   float64         `json:"accuracy"`
	Top5       float64         `json:"top5,omitempty"`
	Batch      int             `json:"batch,omitempty"`
	Latency    measure.Latency `json:"latency_ms"`
	LoadMS     float64         `json:"load_ms"`
	Throughput float64         `json:"throughput"`
	// PeakMemoryBytes is the inference job's peak resident memory, as its runner measured it.
	PeakMemoryBytes int64   `json:"peak_memory_bytes,omitempty"`
	Classes         int     `json:"classes,omitempty"`
	Confusion       [][]int `json:"confusion,omitempty"`

	// Static figures of the compiled model, from the compile step.
	SourceBytes   int64 `json:"source_bytes,omitempty"` // the model as given
	ModelBytes    int64 `json:"model_bytes"`            // the compiled ONNX file
	PackedBytes   int64 `json:"packed_bytes,omitempty"` // what is installed
	GzipBytes     int64 `json:"gzip_bytes,omitempty"`
	Params        int64 `json:"params"`
	NonZeroParams int64 `json:"nonzero_params"`
	MACs          int64 `json:"macs"`
	ArenaBytes    int64 `json:"arena_bytes"`

	// Agreement with the same model's uncompressed ("none") run: the share of equal top-1
	// predictions and the largest output difference. Set once both runs have finished.
	Agreement *float64 `json:"agreement,omitempty"`
	MaxDiff   *float64 `json:"max_diff,omitempty"`
}

// Compiled is what compiling a model produced: the compressed ONNX model, the packed artifact a
// device installs (nil when there is none) and its static figures.
type Compiled struct {
	ONNX, Packed                []byte
	Params, NonZeroParams, MACs int64
	GzipBytes, ArenaBytes       int64
	Notes                       []string // what the technique skipped or changed, for the log
}

// Compiler optimises and compresses a model with a technique; the studio supplies the
// compression catalogue's.
type Compiler interface {
	Compile(ctx context.Context, m *onnx.Model, technique string, calib *dataset.Dataset) (*Compiled, error)
}

// Deps are what the worker gets from the program that hosts it.
type Deps struct {
	Compiler Compiler
	// Load reads a compiled artifact (ONNX or packed) into a model; nil reads ONNX only.
	Load func(path string) (*onnx.Model, error)
}

// Files of a step directory.
const (
	SpecFile    = "spec.json"
	ResultFile  = "result.json"
	OutputsFile = "outputs.npy" // inference: raw outputs, for agreement with the baseline
	// LatenciesFile holds every timed call's latency in milliseconds, for distribution plots.
	LatenciesFile = "latency_ms.json"
)

// Main runs the worker with command-line arguments and returns the exit code:
//
//	step NAME                      run the step whose spec is $TINYML_VOLUME/NAME/spec.json
//	infer --model M --dataset D    evaluate and print the metrics JSON (exported images)
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, deps Deps) int {
	if len(args) >= 2 && args[0] == "step" {
		return runStep(ctx, args[1], stdout, stderr, deps)
	}
	if len(args) >= 1 && args[0] == "infer" {
		args = args[1:]
	}
	fs := flag.NewFlagSet("infer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "/model/model.onnx", "compiled model")
	data := fs.String("dataset", "", "labelled dataset file")
	batch := fs.Int("batch", 1, "samples per call")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *data == "" {
		fmt.Fprintln(stderr, "tinyml inference image: give --dataset /data/FILE (mount it with -v DIR:/data:ro)")
		return 2
	}
	m, err := infer(ctx, deps, *model, *data, *batch, 1, 1, "")
	if err != nil {
		fmt.Fprintln(stderr, "tinyml:", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return 1
	}
	return 0
}

func runStep(ctx context.Context, step string, stdout, stderr io.Writer, deps Deps) int {
	vol := os.Getenv(jobspec.VolumeEnv)
	if vol == "" {
		fmt.Fprintf(stderr, "worker: $%s is not set; a runner starts the worker\n", jobspec.VolumeEnv)
		return 2
	}
	dir := filepath.Join(vol, step)
	res := Result{}
	err := func() error {
		b, err := os.ReadFile(filepath.Join(dir, SpecFile))
		if err != nil {
			return fmt.Errorf("read the step spec: %w", err)
		}
		var spec Spec
		if err := json.Unmarshal(b, &spec); err != nil {
			return fmt.Errorf("step spec %s: %w", filepath.Join(dir, SpecFile), err)
		}
		fmt.Fprintf(stdout, "%s: %s\n", time.Now().UTC().Format(time.RFC3339), spec.Step)
		switch spec.Step {
		case "compile":
			res.Metrics, err = compile(ctx, deps, vol, spec, stdout)
		case "inference":
			res.Metrics, err = infer(ctx, deps, filepath.Join(vol, spec.Model), filepath.Join(vol, spec.Dataset),
				spec.Batch, spec.Repeat, spec.Threads, filepath.Join(dir, OutputsFile))
		default:
			err = fmt.Errorf("unknown step %q", spec.Step)
		}
		return err
	}()
	if err != nil {
		res.Error = err.Error()
		fmt.Fprintln(stderr, "error:", err)
	} else {
		res.OK = true
	}
	if werr := WriteJSON(filepath.Join(dir, ResultFile), res); werr != nil {
		fmt.Fprintln(stderr, "error: write result:", werr)
		return 1
	}
	if err != nil {
		return 1
	}
	return 0
}

func compile(ctx context.Context, deps Deps, vol string, spec Spec, log io.Writer) (*Metrics, error) {
	src := filepath.Join(vol, spec.Model)
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	m, err := onnx.Load(src)
	if err != nil {
		return nil, err
	}
	var calib *dataset.Dataset
	if spec.Calib != "" {
		if calib, err = dataset.Load(filepath.Join(vol, spec.Calib)); err != nil {
			return nil, fmt.Errorf("calibration set: %w", err)
		}
	}
	if deps.Compiler == nil {
		return nil, errors.New("this worker has no compiler; the program hosting it must supply one")
	}
	c, err := deps.Compiler.Compile(ctx, m, spec.Technique, calib)
	if err != nil {
		return nil, err
	}
	for _, n := range c.Notes {
		fmt.Fprintln(log, "note:", n)
	}
	dst := filepath.Join(vol, spec.Out)
	if err := WriteFile(dst, c.ONNX); err != nil {
		return nil, err
	}
	met := &Metrics{
		SourceBytes: st.Size(), ModelBytes: int64(len(c.ONNX)), PackedBytes: int64(len(c.ONNX)), GzipBytes: c.GzipBytes,
		Params: c.Params, NonZeroParams: c.NonZeroParams, MACs: c.MACs, ArenaBytes: c.ArenaBytes,
	}
	if c.Packed != nil {
		if err := WriteFile(PackedPath(dst), c.Packed); err != nil {
			return nil, err
		}
		met.PackedBytes = int64(len(c.Packed))
	}
	return met, nil
}

// PackedPath is where the compile step writes the packed artifact beside the compiled ONNX
// model: model.onnx → model.tmlpack.
func PackedPath(onnxPath string) string {
	return strings.TrimSuffix(onnxPath, filepath.Ext(onnxPath)) + ".tmlpack"
}

func infer(ctx context.Context, deps Deps, modelPath, dataPath string, batch, repeat, threads int, outputs string) (*Metrics, error) {
	start := time.Now()
	load := onnx.Load
	if deps.Load != nil {
		load = deps.Load
	}
	om, err := load(modelPath)
	if err != nil {
		return nil, err
	}
	em, err := engine.Compile(om, engine.WithThreads(max(threads, 1)))
	if err != nil {
		return nil, err
	}
	loadTime := time.Since(start)
	ds, err := dataset.Load(dataPath)
	if err != nil {
		return nil, err
	}
	if ds.Y == nil {
		return nil, errors.New("the test set has no labels")
	}
	var raw []float32
	perSample := 0
	res, err := measure.Evaluate(ctx, em, ds, measure.Options{Batch: batch, Repeat: repeat, Outputs: func(i int, v []float32) {
		if raw == nil {
			perSample = len(v)
			raw = make([]float32, perSample*ds.N)
		}
		copy(raw[i*perSample:], v)
	}})
	if err != nil {
		return nil, err
	}
	if outputs != "" {
		ms := make([]float64, len(res.Durations))
		for i, d := range res.Durations {
			ms[i] = float64(d.Nanoseconds()) / 1e6
		}
		if err := WriteJSON(filepath.Join(filepath.Dir(outputs), LatenciesFile), ms); err != nil {
			return nil, err
		}
	}
	if outputs != "" && raw != nil {
		var buf bytes.Buffer
		if err := dataset.WriteNPY(&buf, []int{ds.N, perSample}, raw); err != nil {
			return nil, err
		}
		if err := WriteFile(outputs, buf.Bytes()); err != nil {
			return nil, err
		}
	}
	m := &Metrics{
		Samples: res.Samples, Correct: res.Correct, Accuracy: res.Accuracy, Top5: res.Top5, Batch: res.Batch,
		Latency: res.Latency, LoadMS: float64(loadTime.Microseconds()) / 1000, Classes: res.Classes, Confusion: res.Confusion,
	}
	if total := res.Latency.Mean * float64(res.Calls); total > 0 {
		m.Throughput = float64(res.Calls*res.Batch) / (total / 1000)
	}
	return m, nil
}

// WriteFile writes atomically: a temporary file renamed into place, so a reader (or a restart
// after a crash) never takes half a file for a finished artifact.
func WriteFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// WriteJSON writes v as indented JSON, atomically.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFile(path, append(b, '\n'))
}

// ReadResult reads a step's result file.
func ReadResult(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("result %s: %w", path, err)
	}
	return &r, nil
}
