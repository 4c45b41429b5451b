// Package report turns the results of TinyML runs (model × compression technique × device) into
// something a person would rather look at than read: a comparison table with deltas against each
// model's uncompressed baseline, Pareto fronts, a recommendation under device constraints, PNG
// plots, one self-contained HTML page, and Markdown, CSV and JSON exports. It also keeps a
// performance history (JSON Lines) with a regression gate for CI.
//
// The package knows nothing of stores or pipelines: it takes plain [Run] values and imports
// nothing from the rest of the module, so results from anywhere (a CSV, another tool) can be
// reported the same way.
//
//	r := report.New(runs, report.WithConstraints(report.Constraints{MaxSizeBytes: 256 << 10}))
//	files, err := r.WriteDir(ctx, "out") // report.html, report.md, report.csv, report.json, plots/*.png
package report
