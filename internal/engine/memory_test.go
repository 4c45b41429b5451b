package engine

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
)

// The memory a plan holds is its packed weights and its arena; running it adds nothing (the
// issue's bound: weights + arena + under 1 MB).
func TestRunMemoryIsWeightsPlusArena(t *testing.T) {
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	for _, tm := range testModels {
		t.Run(tm.name, func(t *testing.T) {
			m, ds, _ := loadTestModel(t, tm)
			in := Wrap(ds.X, append([]int{ds.N}, ds.Shape...)...)
			before := heap()
			p, err := m.PlanBatch(ds.N)
			require.NoError(t, err)
			planned := heap()
			var peak uint64
			for range 3 {
				_, err := p.Run(context.Background(), in)
				require.NoError(t, err)
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
			require.Less(t, peak-min(peak, planned), uint64(1<<20), "running grew the heap")
			weights := m.Params() * 4
			t.Logf("%s batch %d: weights %d B (as float32), plan %d B (arena %d B), growth while running %d B",
				tm.name, ds.N, weights, planned-before, p.ArenaBytes(), peak-min(peak, planned))
			p.Close()
		})
	}
}
