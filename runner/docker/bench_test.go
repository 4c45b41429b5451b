package docker_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/tinymlaas/tinyml/internal/image"
	"github.com/tinymlaas/tinyml/runner"
	"github.com/tinymlaas/tinyml/runner/docker"
	"github.com/tinymlaas/tinyml/runner/runnertest"
)

// BenchmarkJobOverhead measures a whole job whose program does nothing (prints one line and
// exits): create + attach + start + wait + inspect + remove. It reports the median as well.
func BenchmarkJobOverhead(b *testing.B) {
	for _, peak := range []bool{true, false} {
		name := "peak-memory-sampling"
		if !peak {
			name = "no-sampling"
		}
		b.Run(name, func(b *testing.B) {
			// Set TINYML_BENCH_PHASES=1 to log each job's create/start/wait/inspect/remove times.
			opts := []docker.Option{docker.WithPeakMemory(peak)}
			if os.Getenv("TINYML_BENCH_PHASES") != "" {
				opts = append(opts, docker.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			}
			r := benchRunner(b, opts...)
			img := benchImage(b, r)
			vol := b.TempDir()
			var ds []time.Duration
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				res, err := r.Run(context.Background(), runner.Job{Name: "bench-overhead", Image: img, Volume: vol,
					Env: map[string]string{runnertest.BehaviourEnv: runnertest.Env}})
				if err != nil || res.ExitCode != 0 {
					b.Fatal(err, res.ExitCode)
				}
				ds = append(ds, time.Since(start))
			}
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "median-ms")
		})
	}
}

// BenchmarkWorkerImage measures the worker image: assembled from the static worker binary and
// loaded into the engine (cold: content the engine has not seen), and found by its content tag
// (cached: hashing the binary and one ImageInspect).
func BenchmarkWorkerImage(b *testing.B) {
	r := benchRunner(b)
	ctx := context.Background()
	arch, err := r.Arch(ctx)
	if err != nil {
		b.Fatal(err)
	}
	bin, err := r.WorkerBinary(ctx, arch)
	if err != nil {
		b.Fatal(err)
	}
	st, _ := os.Stat(bin)
	b.Logf("worker binary %s: %.1f MiB", bin, float64(st.Size())/(1<<20))
	b.Run("cold", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			spec := image.Worker(bin, arch)
			spec.Files = append(spec.Files, image.File{Path: "/bench", Data: []byte(fmt.Sprint(time.Now().UnixNano(), i))})
			ref, err := spec.Ref("tinyml-bench")
			if err != nil {
				b.Fatal(err)
			}
			if err := r.EnsureImage(ctx, ref, spec.Build); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			r.Client().ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true})
			b.StartTimer()
		}
	})
	b.Run("cached", func(b *testing.B) {
		if _, err := r.DefaultImage(ctx); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			spec := image.Worker(bin, arch)
			ref, err := spec.Ref(docker.WorkerRepository)
			if err != nil {
				b.Fatal(err)
			}
			if err := r.EnsureImage(ctx, ref, spec.Build); err != nil {
				b.Fatal(err)
			}
		}
	})
}
