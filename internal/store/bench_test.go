package store

import (
	"context"
	"path/filepath"
	"testing"
)

// seedRuns creates n runs of five steps, a third of them partly done.
func seedRuns(b *testing.B, n int) *Store {
	b.Helper()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "tinyml.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	p, err := s.CreateProject(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	in := make([]Run, n)
	for i := range in {
		in[i] = Run{Model: "hf://org/mobilenet-v2@main/model.onnx", Dataset: "hf://org/cifar10", Calib: "calib.npz",
			Technique: "prune(sparsity=0.5) | int8-static", Device: "small-box", Metrics: []byte(`{"accuracy":0.91,"latency_ms":{"p50":1.5}}`)}
	}
	runs, err := s.CreateRuns(ctx, p.ID, in, pipeline)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < len(runs); i += 3 {
		if _, err := s.UpdateStep(ctx, runs[i].ID, "model", StepUpdate{Status: StatusGenerated}); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func BenchmarkListRuns10k(b *testing.B) {
	const n = 10000
	s := seedRuns(b, n)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		runs, err := s.ListRuns(ctx, ListFilter{})
		if err != nil {
			b.Fatal(err)
		}
		if len(runs) != n || len(runs[n-1].Steps) != 5 {
			b.Fatalf("got %d runs", len(runs))
		}
	}
}

func BenchmarkUpdateStep(b *testing.B) {
	s := seedRuns(b, 100)
	ctx := context.Background()
	runs, err := s.ListRuns(ctx, ListFilter{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := runs[i%len(runs)]
		if _, err := s.UpdateStep(ctx, r.ID, "compile", StepUpdate{IncAttempt: true}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
