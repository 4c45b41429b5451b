package engine_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/compress"
	"github.com/tinymlaas/tinyml/internal/dataset"
	"github.com/tinymlaas/tinyml/internal/engine"
	"github.com/tinymlaas/tinyml/internal/onnx"
	"github.com/tinymlaas/tinyml/internal/testenv"
)

// The testdata models quantized by compress's int8-static (standard ONNX QDQ), run by the
// fused integer path (qdq.go) and by the reference operators.

type qdqModel struct {
	name, calib, test string
}

var qdqModels = []qdqModel{
	{"digits_mlp", "digits_calib.csv", "digits_test.csv"},
	{"digits_cnn", "digits_calib.csv", "digits_test.csv"},
	{"fashion_dwcnn", "fashion_calib.npz", "fashion_test.npz"},
	{"fashion_resnet", "fashion_calib.npz", "fashion_test.npz"},
}

var (
	qdqMu    sync.Mutex
	qdqCache = map[string]*onnx.Model{}
)

// loadQDQ returns a testdata model, float32 (int8 false) or quantized with int8-static, and
// its test set fitted to it.
func loadQDQ(t testing.TB, tm qdqModel, int8 bool) (*onnx.Model, *dataset.Dataset) {
	t.Helper()
	load := func(file string) *dataset.Dataset {
		ds, err := dataset.Load(testenv.RepoFile(t, "testdata/data/"+file))
		require.NoError(t, err)
		return ds
	}
	qdqMu.Lock()
	defer qdqMu.Unlock()
	key := fmt.Sprint(tm.name, int8)
	m := qdqCache[key]
	if m == nil {
		var err error
		m, err = onnx.Load(testenv.RepoFile(t, "testdata/models/"+tm.name+".onnx"))
		require.NoError(t, err)
		if int8 {
			chain, err := compress.Parse("int8-static")
			require.NoError(t, err)
			res, err := compress.Apply(context.Background(), m, chain, compress.Options{Calib: load(tm.calib)})
			require.NoError(t, err)
			m = res.Model
		}
		qdqCache[key] = m
	}
	em, err := engine.Compile(m)
	require.NoError(t, err)
	ds := load(tm.test)
	require.NoError(t, ds.Fit(em.Inputs()[0].Shape[1:]))
	return m, ds
}

// BenchmarkQDQModels compares float32 and int8-static (fused integer kernels) on the testdata
// models at batch 1 and full batch, one thread. Besides ns/op it reports ms/call and the
// process's CPU time per call (cpu-ms/call), which a loaded machine inflates less.
//
//	go test ./internal/engine -run '^$' -bench QDQModels -benchtime 20x
func BenchmarkQDQModels(b *testing.B) {
	for _, tm := range qdqModels {
		for _, int8 := range []bool{false, true} {
			kind := "fp32"
			if int8 {
				kind = "int8"
			}
			for _, full := range []bool{true, false} {
				name := fmt.Sprintf("%s/%s/batch=1", tm.name, kind)
				if full {
					name = fmt.Sprintf("%s/%s/batch=full", tm.name, kind)
				}
				b.Run(name, func(b *testing.B) {
					om, ds := loadQDQ(b, tm, int8)
					m, err := engine.Compile(om)
					require.NoError(b, err)
					batch := 1
					if full {
						batch = ds.N
					}
					p, err := m.PlanBatch(batch)
					require.NoError(b, err)
					defer p.Close()
					var inputs []*engine.Tensor
					n := ds.SampleLen()
					for lo := 0; lo+batch <= ds.N; lo += batch {
						inputs = append(inputs, engine.Wrap(ds.X[lo*n:(lo+batch)*n], append([]int{batch}, ds.Shape...)...))
					}
					ctx := context.Background()
					_, err = p.Run(ctx, inputs[0])
					require.NoError(b, err)
					cpu0, cpuOK := processCPU()
					i := 0
					for b.Loop() {
						if _, err := p.Run(ctx, inputs[i]); err != nil {
							b.Fatal(err)
						}
						if i++; i == len(inputs) {
							i = 0
						}
					}
					b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/call")
					if cpu1, ok := processCPU(); ok && cpuOK {
						b.ReportMetric(float64(cpu1-cpu0)/1e6/float64(b.N), "cpu-ms/call")
					}
				})
			}
		}
	}
}

func runBatch(t testing.TB, m *engine.Model, ds *dataset.Dataset, batch int) []float32 {
	t.Helper()
	p, err := m.PlanBatch(batch)
	require.NoError(t, err)
	defer p.Close()
	n := ds.SampleLen()
	var out []float32
	for lo := 0; lo+batch <= ds.N; lo += batch {
		res, err := p.Run(context.Background(), engine.Wrap(ds.X[lo*n:(lo+batch)*n], append([]int{batch}, ds.Shape...)...))
		require.NoError(t, err)
		out = append(out, engine.F32(res[0])...)
	}
	return out
}

func top1(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// The int8-static testdata models run as fused integer operators only (no float tensor is
// dequantized on the way), agree with the reference QDQ graph on (nearly) every prediction, and
// give the same outputs at batch 1 and full batch, on one thread and on two.
func TestQDQModelsRunFused(t *testing.T) {
	for _, tm := range qdqModels {
		t.Run(tm.name, func(t *testing.T) {
			om, ds := loadQDQ(t, tm, true)
			m, err := engine.Compile(om)
			require.NoError(t, err)
			ops := engine.FusedOps(m)
			require.NotContains(t, ops, "DequantizeLinear", "%v", ops)
			require.NotContains(t, ops, "Conv", "%v", ops)
			require.NotContains(t, ops, "Gemm", "%v", ops)
			ref, err := engine.CompileWithoutQDQFusion(om)
			require.NoError(t, err)
			got, want := runBatch(t, m, ds, ds.N), runBatch(t, ref, ds, ds.N)
			classes := len(got) / ds.N
			agree := 0
			var maxDiff float64
			for i := range ds.N {
				if top1(got[i*classes:(i+1)*classes]) == top1(want[i*classes:(i+1)*classes]) {
					agree++
				}
			}
			for i := range got {
				maxDiff = max(maxDiff, float64(got[i]-want[i]), float64(want[i]-got[i]))
			}
			t.Logf("%s: fused %v; top-1 agreement with the reference QDQ graph %d/%d, max |logit diff| %.3g", tm.name, ops, agree, ds.N, maxDiff)
			require.GreaterOrEqual(t, float64(agree), 0.99*float64(ds.N))

			one := runBatch(t, m, ds, 1)
			require.Equal(t, got, one, "batch 1 and full batch")
			m2, err := engine.Compile(om, engine.WithThreads(2))
			require.NoError(t, err)
			require.Equal(t, got, runBatch(t, m2, ds, ds.N), "two threads")
			seven := runBatch(t, m2, ds, 7)
			require.Equal(t, got[:len(seven)], seven, "two threads, batch 7")
		})
	}
}

func TestQDQRunAllocatesNothing(t *testing.T) {
	for _, tm := range qdqModels {
		t.Run(tm.name, func(t *testing.T) {
			om, ds := loadQDQ(t, tm, true)
			for _, threads := range []int{1, 2} {
				m, err := engine.Compile(om, engine.WithThreads(threads))
				require.NoError(t, err)
				for _, batch := range []int{1, 16} {
					p, err := m.PlanBatch(batch)
					require.NoError(t, err)
					in := engine.Wrap(ds.X[:batch*ds.SampleLen()], append([]int{batch}, ds.Shape...)...)
					ctx := context.Background()
					allocs := testing.AllocsPerRun(20, func() {
						if _, err := p.Run(ctx, in); err != nil {
							t.Fatal(err)
						}
					})
					require.Zero(t, allocs, "threads %d batch %d", threads, batch)
					p.Close()
				}
			}
		})
	}
}

// The memory a compiled and planned model holds besides its activation arena (its weights,
// packed and as stored), float32 against int8-static: logged, for the record.
func TestQDQPlanMemory(t *testing.T) {
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for _, tm := range qdqModels {
		for _, int8 := range []bool{false, true} {
			om, _ := loadQDQ(t, tm, int8)
			before := heap()
			m, err := engine.Compile(om)
			require.NoError(t, err)
			p, err := m.PlanBatch(1)
			require.NoError(t, err)
			held := int64(heap()) - int64(before) - int64(p.ArenaBytes())
			t.Logf("%-15s int8=%-5v params %7d, held besides the arena %8d B (arena %d B)", tm.name, int8, m.Params(), held, p.ArenaBytes())
			runtime.KeepAlive(m)
			p.Close()
		}
	}
}
