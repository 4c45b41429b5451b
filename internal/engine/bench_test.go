package engine

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkModels runs every testdata model at batch 1 (cycling through the test set, one
// sample per call) and at full batch (the whole test set in one call: 360 digits, 1000 Fashion
// images), on one thread, and at full batch on two threads. Besides ns/op it reports ms/call and
// samples/s, so runs with different batch sizes compare directly.
//
//	go test ./internal/engine -run '^$' -bench Models -benchtime 2s
//	go test ./internal/engine -run '^$' -bench 'Models/fashion_resnet/batch=full/threads=1' -cpuprofile cpu.prof
//
// examples/bench puts the same numbers side by side with onnxruntime's.
func BenchmarkModels(b *testing.B) {
	type setting struct {
		full    bool
		threads int
	}
	settings := []setting{{false, 1}, {true, 1}, {true, 2}}
	for _, tm := range testModels {
		b.Run(tm.name, func(b *testing.B) {
			for _, st := range settings {
				name := fmt.Sprintf("batch=1/threads=%d", st.threads)
				if st.full {
					name = fmt.Sprintf("batch=full/threads=%d", st.threads)
				}
				b.Run(name, func(b *testing.B) {
					m, ds, _ := loadTestModel(b, tm, WithThreads(st.threads))
					batch := 1
					if st.full {
						batch = ds.N
					}
					benchPlan(b, m, ds.X, ds.SampleLen(), batch, append([]int{batch}, ds.Shape...))
				})
			}
		})
	}
}

// benchPlan times Plan.Run on consecutive batches of x (wrapping around), one batch per call.
func benchPlan(b *testing.B, m *Model, x []float32, sampleLen, batch int, shape []int) {
	b.Helper()
	p, err := m.PlanBatch(batch)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	n := len(x) / sampleLen
	var inputs []*Tensor
	for lo := 0; lo+batch <= n; lo += batch {
		inputs = append(inputs, Wrap(x[lo*sampleLen:(lo+batch)*sampleLen], shape...))
	}
	ctx := context.Background()
	if _, err := p.Run(ctx, inputs[0]); err != nil { // first call outside the timer
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := p.Run(ctx, inputs[i]); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(inputs) {
			i = 0
		}
	}
	perCall := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(perCall*1e3, "ms/call")
	b.ReportMetric(float64(batch)/perCall, "samples/s")
}
