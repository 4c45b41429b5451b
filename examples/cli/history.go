package main

import (
	"fmt"
	"os"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/tinymlaas/tinyml/report"
)

func (a *app) historyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "history", Short: "A performance history with a regression gate (for CI)"}
	var file, project, version, machine string
	var th report.Thresholds
	record := &cobra.Command{
		Use:   "record --project P --file history.jsonl",
		Short: "Append the project's finished runs to the history; exit non-zero if any regressed against its previous entry",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "project", "file"); err != nil {
				return err
			}
			prev, err := report.ReadHistory(file)
			if err != nil {
				return err
			}
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			runs, err := s.Runs(cmd.Context(), tinymlFilter(project))
			if err != nil {
				return err
			}
			if machine == "" {
				host, _ := os.Hostname()
				machine = fmt.Sprintf("%s %s/%s %d CPU", host, runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
			}
			cur := report.EntriesFromRuns(s.ReportRuns(runs), version, machine, time.Now().UTC())
			if len(cur) == 0 {
				return fmt.Errorf("project %s has no finished runs to record", project)
			}
			if err := report.AppendHistory(file, cur...); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "recorded %d entries in %s\n", len(cur), file)
			return report.Gate(prev, cur, th)
		},
	}
	rf := record.Flags()
	rf.StringVar(&project, "project", "", "project name or ID")
	rf.StringVar(&file, "file", "", "history file (JSON Lines; created if absent)")
	rf.StringVar(&version, "version", "dev", "the version being measured (e.g. a git commit)")
	rf.StringVar(&machine, "machine", "", "machine description (default: host, OS/arch, CPUs)")
	addThresholds(record, &th)

	var out string
	page := &cobra.Command{
		Use:   "page --file history.jsonl --out history.html",
		Short: "Render the history as an HTML page with trend plots",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "file", "out"); err != nil {
				return err
			}
			entries, err := report.ReadHistory(file)
			if err != nil {
				return err
			}
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			if err := report.WriteHistoryHTML(f, entries); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		},
	}
	page.Flags().StringVar(&file, "file", "", "history file")
	page.Flags().StringVar(&out, "out", "", "HTML file to write")
	cmd.AddCommand(record, page)
	return cmd
}

func addThresholds(cmd *cobra.Command, th *report.Thresholds) {
	d := report.DefaultThresholds()
	*th = d
	f := cmd.Flags()
	f.Float64Var(&th.MinAccuracyRatio, "min-accuracy-ratio", d.MinAccuracyRatio, "fail when accuracy falls below this fraction of the previous entry (0: off)")
	f.Float64Var(&th.MaxLatencyRatio, "max-latency-ratio", d.MaxLatencyRatio, "fail when latency rises above this multiple of the previous entry (0: off)")
	f.Float64Var(&th.MaxSizeRatio, "max-size-ratio", d.MaxSizeRatio, "fail when size rises above this multiple (0: off)")
	f.Float64Var(&th.MaxMemoryRatio, "max-memory-ratio", d.MaxMemoryRatio, "fail when memory rises above this multiple (0: off)")
}
