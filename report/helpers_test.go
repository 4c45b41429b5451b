package report_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/tinymlaas/tinyml/report"
)

// technique is how a compression technique changes a model in the sample data.
type technique struct {
	name                    string
	accDrop, size, lat, mem float64 // relative to the baseline
}

func techniques() []technique {
	return []technique{
		{"none", 0, 1, 1, 1},
		{"fp16", 0.0004, 0.5, 0.92, 0.55},
		{"int8-dynamic", 0.0031, 0.27, 0.71, 0.4},
		{"int8-static", 0.0052, 0.26, 0.48, 0.3},
		{"prune(sparsity=0.5)", 0.0118, 0.52, 0.9, 1},
		{"prune(sparsity=0.5) | int8-static", 0.0163, 0.14, 0.45, 0.3},
	}
}

type model struct {
	name, dataset string
	acc           float64
	bytes         int64
	p50           float64
	classes       []string
}

func models() []model {
	return []model{
		{"mnist-cnn", "mnist-test", 0.9912, 1_706_000, 0.84, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}},
		{"kws-dscnn", "speech-commands", 0.9421, 498_000, 3.9, []string{"yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "silence", "unknown"}},
	}
}

// sampleRuns is a small, realistic project: two models, six techniques, one board, one failed
// and one still running run.
func sampleRuns() []report.Run {
	rng := rand.New(rand.NewPCG(1, 2))
	at := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	var runs []report.Run
	for _, m := range models() {
		for _, t := range techniques() {
			runs = append(runs, makeRun(rng, m, t, "pi-zero-2w", 1, at, true))
		}
	}
	failed := makeRun(rng, models()[0], technique{"int4-weight", 0, 0.15, 1, 1}, "pi-zero-2w", 1, at, false)
	failed.Status = report.StatusFailed
	running := makeRun(rng, models()[1], technique{"distill(student=tiny)", 0, 0.1, 0.3, 0.3}, "pi-zero-2w", 1, at, false)
	running.Status = report.StatusRunning
	return append(runs, failed, running)
}

func makeRun(rng *rand.Rand, m model, t technique, device string, speed float64, at time.Time, done bool) report.Run {
	r := report.Run{
		ID:        fmt.Sprintf("%s-%s-%s", m.name, fileName(t.name), device),
		Project:   "demo",
		Model:     m.name,
		Dataset:   m.dataset,
		Technique: t.name,
		Device:    device,
		Status:    report.StatusDone,
		Finished:  at,
	}
	if !done {
		return r
	}
	n := 2000
	acc := m.acc - t.accDrop
	p50 := m.p50 * t.lat * speed
	lat := make([]float64, 200)
	for i := range lat {
		lat[i] = p50 * math.Exp(0.08*rng.NormFloat64()) * (1 + 0.6*math.Pow(rng.Float64(), 12))
	}
	q := func(p float64) float64 {
		s := slices.Clone(lat)
		slices.Sort(s)
		return s[int(p*float64(len(s)-1))]
	}
	k := len(m.classes)
	conf := make([][]int, k)
	correct := 0
	per := n / k
	for i := range conf {
		conf[i] = make([]int, k)
		hit := int(math.Round(float64(per) * (acc + 0.02*(rng.Float64()-0.5))))
		hit = min(hit, per)
		conf[i][i] = hit
		correct += hit
		for miss := per - hit; miss > 0; miss-- {
			j := (i + 1 + rng.IntN(k-1)) % k
			conf[i][j]++
		}
	}
	size := int64(float64(m.bytes) * t.size)
	r.Metrics = report.Metrics{
		Samples:          per * k,
		Correct:          correct,
		Accuracy:         acc,
		Latency:          report.Latency{Min: q(0), P50: q(0.5), P90: q(0.9), P99: q(0.99), Mean: p50 * 1.03},
		LoadMS:           12 + 30*t.size,
		Throughput:       1000 / p50,
		ModelBytes:       int64(float64(m.bytes) * math.Max(t.size, 0.25)),
		PackedBytes:      size,
		GzipBytes:        size * 7 / 10,
		Params:           m.bytes / 4,
		NonZeroParams:    int64(float64(m.bytes/4) * math.Min(1, t.size*2)),
		MACs:             m.bytes * 3,
		ArenaBytes:       int64(48_000 * t.mem),
		PeakMemBytes:     int64(float64(m.bytes)*t.size*1.1) + int64(60_000*t.mem),
		Agreement:        1 - t.accDrop*1.3,
		MaxDiff:          t.accDrop * 4,
		Classes:          m.classes,
		Confusion:        conf,
		LatencySamplesMS: lat,
	}
	if t.name == "none" {
		r.Metrics.Agreement, r.Metrics.MaxDiff = 1, 0
	}
	return r
}

func fileName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b[i] = '_'
		}
	}
	return string(b)
}

// syntheticRuns makes n runs over 10 models, 10 techniques and n/100 devices, without latency
// samples or confusion matrices on most, like a large sweep would.
func syntheticRuns(n int) []report.Run {
	rng := rand.New(rand.NewPCG(3, 4))
	ts := techniques()
	for i := len(ts); i < 10; i++ {
		ts = append(ts, technique{fmt.Sprintf("quant-w%d", i), 0.002 * float64(i), 0.05 + 0.04*float64(i), 0.3 + 0.05*float64(i), 0.2 + 0.05*float64(i)})
	}
	at := time.Date(2025, 3, 14, 9, 30, 0, 0, time.UTC)
	var runs []report.Run
	for i := 0; len(runs) < n; i++ {
		m := model{fmt.Sprintf("model-%02d", i%10), "bench", 0.8 + 0.019*float64(i%10), int64(30_000 * (1 << (i % 10))), 0.2 * float64(1+i%10), []string{"a", "b", "c"}}
		dev := fmt.Sprintf("board-%02d", i/10)
		for _, t := range ts {
			if len(runs) == n {
				break
			}
			r := makeRun(rng, m, t, dev, 1+0.3*float64(i/10), at, true)
			r.Metrics.LatencySamplesMS = nil
			if i%10 != 0 {
				r.Metrics.Confusion = nil
			}
			runs = append(runs, r)
		}
	}
	return runs
}
