package report

import (
	"cmp"
	"slices"
	"strings"
)

// Row is one line of the comparison table: a run, how it compares with its baseline, and
// whether it is on a Pareto front.
type Row struct {
	Run
	// BaselineID is the run this one is compared with: the finished `none` run of the same
	// model, dataset and device. Empty for baselines and for runs without one.
	BaselineID string `json:"baseline_id,omitempty"`
	// Delta is nil when there is no baseline to compare with.
	Delta *Delta `json:"delta,omitempty"`
	// ParetoSize and ParetoLatency mark runs that no other run beats on both accuracy and size
	// (or p50 latency). Fronts are drawn per dataset and device: accuracy is only comparable on
	// the same test set, latency only on the same hardware.
	ParetoSize    bool `json:"pareto_size"`
	ParetoLatency bool `json:"pareto_latency"`
}

// Delta compares a run with its baseline. A ratio is 0 when either side was not measured.
type Delta struct {
	Accuracy     float64 `json:"accuracy"`          // run − baseline, as a fraction (×100 = percentage points)
	LatencyRatio float64 `json:"latency_p50_ratio"` // run p50 / baseline p50
	SizeRatio    float64 `json:"size_ratio"`        // run size / baseline size
	MemoryRatio  float64 `json:"memory_ratio"`      // run memory / baseline memory
}

// compareTechniques orders the baseline first, then techniques by name.
func compareTechniques(a, b string) int {
	ab, bb := strings.EqualFold(a, BaselineTechnique), strings.EqualFold(b, BaselineTechnique)
	switch {
	case ab && !bb:
		return -1
	case bb && !ab:
		return 1
	}
	return strings.Compare(a, b)
}

// sortRuns orders runs by model, dataset, technique (baseline first), device, then ID, so that a
// model's techniques sit together in the table.
func sortRuns(runs []Run) {
	slices.SortStableFunc(runs, func(a, b Run) int {
		return cmp.Or(
			strings.Compare(a.Model, b.Model),
			strings.Compare(a.Dataset, b.Dataset),
			compareTechniques(a.Technique, b.Technique),
			strings.Compare(a.Device, b.Device),
			strings.Compare(a.ID, b.ID),
		)
	})
}

type baselineKey struct{ model, dataset, device string }

// buildRows sorts a copy of runs, links each to its baseline and marks the Pareto fronts.
func buildRows(runs []Run) []Row {
	sorted := clean(runs)
	sortRuns(sorted)

	// The latest finished `none` run is the baseline when a model was measured more than once.
	base := map[baselineKey]Run{}
	for _, r := range sorted {
		if !r.Done() || !r.IsBaseline() {
			continue
		}
		k := baselineKey{r.Model, r.Dataset, r.Device}
		if old, ok := base[k]; !ok || r.Finished.After(old.Finished) {
			base[k] = r
		}
	}

	rows := make([]Row, len(sorted))
	for i, r := range sorted {
		rows[i].Run = r
		b, ok := base[baselineKey{r.Model, r.Dataset, r.Device}]
		if !ok || r.IsBaseline() || !r.Done() {
			continue
		}
		rows[i].BaselineID = b.ID
		rows[i].Delta = &Delta{
			Accuracy:     r.Metrics.Accuracy - b.Metrics.Accuracy,
			LatencyRatio: ratio(r.Metrics.Latency.P50, b.Metrics.Latency.P50),
			SizeRatio:    ratio(float64(r.Metrics.SizeBytes()), float64(b.Metrics.SizeBytes())),
			MemoryRatio:  ratio(float64(r.Metrics.MemoryBytes()), float64(b.Metrics.MemoryBytes())),
		}
	}
	markPareto(rows, func(m Metrics) float64 { return float64(m.SizeBytes()) }, func(r *Row) { r.ParetoSize = true })
	markPareto(rows, func(m Metrics) float64 { return m.Latency.P50 }, func(r *Row) { r.ParetoLatency = true })
	return rows
}

func ratio(a, b float64) float64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	return a / b
}

type frontKey struct{ dataset, device string }

// markPareto marks the rows that no other finished row of the same dataset and device dominates:
// at least as accurate and at most as costly, and strictly better in one of the two.
func markPareto(rows []Row, cost func(Metrics) float64, mark func(*Row)) {
	groups := map[frontKey][]int{}
	for i, r := range rows {
		if r.Done() && r.Metrics.hasAccuracy() && cost(r.Metrics) > 0 {
			k := frontKey{r.Dataset, r.Device}
			groups[k] = append(groups[k], i)
		}
	}
	for _, idx := range groups {
		for _, i := range idx {
			a, ca := rows[i].Metrics.Accuracy, cost(rows[i].Metrics)
			dominated := slices.ContainsFunc(idx, func(j int) bool {
				b, cb := rows[j].Metrics.Accuracy, cost(rows[j].Metrics)
				return b >= a && cb <= ca && (b > a || cb < ca)
			})
			if !dominated {
				mark(&rows[i])
			}
		}
	}
}
