package tinyml_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/tinymlaas/tinyml/device"
	"github.com/tinymlaas/tinyml/internal/testenv"
	"github.com/tinymlaas/tinyml/internal/worker"
	"github.com/tinymlaas/tinyml/runner"
	"github.com/tinymlaas/tinyml/runner/docker"
)

// BenchmarkInferenceHostVsContainer puts side by side the per-sample latency of one pass over
// the digits test set on the host (the worker in-process) and in inference containers limited
// like small boards. Each op is one whole pass; p50-ms and p90-ms are the worker's own
// per-sample figures (model load excluded), so container start-up is not in them.
func BenchmarkInferenceHostVsContainer(b *testing.B) {
	testenv.Docker(b)
	ctx := context.Background()
	r, err := docker.New()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	data := testenv.RepoFile(b, "testdata/data/digits_test.csv")
	vol := b.TempDir()
	if err := os.Chmod(vol, 0o755); err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(data)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, "test.csv"), raw, 0o644); err != nil {
		b.Fatal(err)
	}
	boards := []device.Profile{
		{Name: "container-1cpu-256MiB", Kind: device.Docker, CPUs: 1, MemoryBytes: 256 << 20},
		{Name: "container-0.5cpu-64MiB", Kind: device.Docker, CPUs: 0.5, MemoryBytes: 64 << 20},
	}
	for _, model := range []string{"digits_mlp", "digits_cnn"} {
		src := testenv.RepoFile(b, "testdata/models/"+model+".onnx")
		b.Run(model+"/host", func(b *testing.B) {
			var m worker.Metrics
			for b.Loop() {
				var out, errOut bytes.Buffer
				if code := worker.Main(ctx, []string{"infer", "--model", src, "--dataset", data}, &out, &errOut, worker.Deps{}); code != 0 {
					b.Fatal(errOut.String())
				}
				if err := json.Unmarshal(out.Bytes(), &m); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(m.Latency.P50, "p50-ms")
			b.ReportMetric(m.Latency.P90, "p90-ms")
		})
		art := device.Artifact{Volume: filepath.Dir(src), Path: filepath.Base(src)}
		for _, p := range boards {
			b.Run(model+"/"+p.Name, func(b *testing.B) {
				in := device.NewDockerInstaller(r)
				ref, err := in.Install(ctx, p, art)
				if err != nil {
					b.Fatal(err)
				}
				rn, job := in.Inference(p, vol, ref)
				job.Name = "bench-inference"
				job.Command = []string{"infer", "--dataset", runner.VolumePath + "/test.csv"}
				var m worker.Metrics
				for b.Loop() {
					var out, errOut bytes.Buffer
					job.Stdout, job.Stderr = &out, &errOut
					res, err := rn.Run(ctx, job)
					if err != nil || res.ExitCode != 0 {
						b.Fatal(err, errOut.String())
					}
					if err := json.Unmarshal(out.Bytes(), &m); err != nil {
						b.Fatal(err, out.String())
					}
				}
				b.ReportMetric(m.Latency.P50, "p50-ms")
				b.ReportMetric(m.Latency.P90, "p90-ms")
			})
		}
	}
}
