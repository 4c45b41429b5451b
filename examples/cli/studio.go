package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tinymlaas/tinyml/device"
	"github.com/tinymlaas/tinyml/tinyml"
)

// open opens the studio of --dir.
func (a *app) open(ctx context.Context, opts ...tinyml.Option) (*tinyml.Studio, error) {
	return tinyml.Open(ctx, a.dir, opts...)
}

func (a *app) projectCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "project", Short: "Create and list projects"}
	var asJSON bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a project",
		Args:  exactArgs(1, "a project name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			p, err := s.CreateProject(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(p)
			}
			fmt.Fprintf(a.stdout, "project %s created (id %s)\n", p.Name, p.ID)
			return nil
		},
	}
	create.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	var listJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List projects",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			ps, err := s.Projects(cmd.Context())
			if err != nil {
				return err
			}
			if listJSON {
				return a.printJSON(nonNil(ps))
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tCREATED")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", p.ID, p.Name, p.Created.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print one JSON document")
	cmd.AddCommand(create, list)
	return cmd
}

func (a *app) deviceCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "device", Short: "Register and list devices (local, docker, ssh)"}
	var kind, arch, memory, storage, host, key string
	var cpus float64
	var asJSON bool
	add := &cobra.Command{
		Use:   "add NAME --kind local|docker|ssh",
		Short: "Register a device",
		Args:  exactArgs(1, "a device name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := device.Profile{Name: args[0], Kind: device.Kind(kind), Arch: arch, CPUs: cpus, KeyPath: key}
			var err error
			if memory != "" {
				if p.MemoryBytes, err = device.ParseBytes(memory); err != nil {
					return fmt.Errorf("--memory: %w", err)
				}
			}
			if storage != "" {
				if p.StorageBytes, err = device.ParseBytes(storage); err != nil {
					return fmt.Errorf("--storage: %w", err)
				}
			}
			if host != "" {
				if p.User, p.Host, p.Port, err = device.ParseHost(host); err != nil {
					return fmt.Errorf("--host: %w", err)
				}
			}
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			d, err := s.AddDevice(cmd.Context(), p)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(d)
			}
			fmt.Fprintf(a.stdout, "device %s registered (%s)\n", d.Name, describeDevice(d))
			return nil
		},
	}
	f := add.Flags()
	f.StringVar(&kind, "kind", "local", "local (this host), docker (a resource-limited container) or ssh (a Linux board)")
	f.Float64Var(&cpus, "cpus", 0, "CPUs the device has (docker: the container's limit)")
	f.StringVar(&memory, "memory", "", "memory, e.g. 64MiB")
	f.StringVar(&storage, "storage", "", "storage for the model, e.g. 4MiB")
	f.StringVar(&arch, "arch", "", "architecture (default: this host's)")
	f.StringVar(&host, "host", "", "ssh: user@addr:port")
	f.StringVar(&key, "key", "", "ssh: private key file")
	f.BoolVar(&asJSON, "json", false, "print one JSON document")
	var listJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List devices",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			ds, err := s.Devices(cmd.Context())
			if err != nil {
				return err
			}
			if listJSON {
				return a.printJSON(nonNil(ds))
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tDETAILS")
			for _, d := range ds {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Name, d.Kind, describeDevice(d))
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&listJSON, "json", false, "print one JSON document")
	cmd.AddCommand(add, list)
	return cmd
}

func describeDevice(d tinyml.Device) string {
	parts := []string{d.Arch}
	if d.CPUs > 0 {
		parts = append(parts, fmt.Sprintf("%g CPU", d.CPUs))
	}
	if d.MemoryBytes > 0 {
		parts = append(parts, humanBytes(d.MemoryBytes)+" memory")
	}
	if d.StorageBytes > 0 {
		parts = append(parts, humanBytes(d.StorageBytes)+" storage")
	}
	if d.Host != "" {
		parts = append(parts, fmt.Sprintf("%s@%s:%d", d.User, d.Host, d.Port))
	}
	return strings.Join(parts, ", ")
}

func (a *app) runCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "run", Short: "Create, start and inspect runs"}
	cmd.AddCommand(a.runCreateCmd(), a.runStartCmd(), a.runListCmd(), a.runShowCmd(), a.runLogsCmd(), a.runCancelCmd())
	return cmd
}

func (a *app) runCreateCmd() *cobra.Command {
	var m tinyml.Matrix
	var project string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create --project P --model M... --dataset D --compress SPEC... --device NAME...",
		Short: "Create one run per model × compression × device",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "project", "model", "dataset"); err != nil {
				return err
			}
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			runs, err := s.CreateRuns(cmd.Context(), project, m)
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(runs)
			}
			for _, r := range runs {
				fmt.Fprintf(a.stdout, "%s  %s  %s  %s\n", r.ID, shortRef(r.Model), r.Technique, r.Device)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&project, "project", "", "project name or ID")
	f.StringArrayVar(&m.Models, "model", nil, "model: a path or hf://org/name[@rev][/path] (repeatable)")
	f.StringVar(&m.Dataset, "dataset", "", "test set: a path or hf://... reference")
	f.StringVar(&m.Calib, "calib", "", "calibration set for int8-static")
	f.StringArrayVar(&m.Compressions, "compress", nil, "compression spec, e.g. 'prune(sparsity=0.5) | int8-static' (repeatable; default none)")
	f.StringArrayVar(&m.Devices, "device", nil, "device name (repeatable; default local)")
	f.StringVar(&m.Toolchain, "toolchain", "", "a compile image obeying the job contract (docker runner)")
	f.BoolVar(&asJSON, "json", false, "print one JSON document")
	return cmd
}

func (a *app) runStartCmd() *cobra.Command {
	var project string
	var wait bool
	cmd := &cobra.Command{
		Use:   "start [--wait] (--project P | RUN...)",
		Short: "Execute runs' pipelines (in the background unless --wait)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if project == "" && len(args) == 0 {
				return usageError{"run start needs --project P or run IDs"}
			}
			ctx := cmd.Context()
			s, err := a.open(ctx)
			if err != nil {
				return err
			}
			defer s.Close()
			ids := args
			if project != "" {
				runs, err := s.Runs(ctx, tinyml.RunFilter{Project: project})
				if err != nil {
					return err
				}
				for _, r := range runs {
					if r.Status != tinyml.Generated {
						ids = append(ids, r.ID)
					}
				}
			}
			for _, id := range ids {
				if _, err := s.Run(ctx, id); err != nil {
					return err
				}
			}
			if !wait {
				return a.detach(ids)
			}
			return a.execute(ctx, s, ids)
		},
	}
	cmd.Flags().StringVar(&project, "project", "", "start every unfinished run of this project")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until all runs end; exit 0 only if all are generated")
	return cmd
}

// detach starts a background process that executes the runs, so that the command returns while
// they run; `tinyml run list` follows them.
func (a *app) detach(ids []string) error {
	if len(ids) == 0 {
		fmt.Fprintln(a.stdout, "nothing to start: every run is generated")
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logPath := a.dir + "/background.log"
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := append([]string{"--dir", a.dir, "run", "start", "--wait"}, ids...)
	c := exec.Command(exe, args...)
	c.Stdout, c.Stderr = logf, logf
	detachProcess(c)
	if err := c.Start(); err != nil {
		return fmt.Errorf("start the background executor: %w", err)
	}
	fmt.Fprintf(a.stdout, "started %d run(s) in the background (pid %d, log %s); follow them with: tinyml run list\n", len(ids), c.Process.Pid, logPath)
	return c.Process.Release()
}

// execute runs the pipelines in this process, showing progress on a terminal.
func (a *app) execute(ctx context.Context, s *tinyml.Studio, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	stop := a.progress(ctx, s, ids)
	runs, err := s.Execute(ctx, ids...)
	stop()
	if err != nil {
		return err
	}
	failed := 0
	for _, r := range runs {
		if r.Status != tinyml.Generated {
			failed++
			fmt.Fprintf(a.stderr, "%s %s: %s\n", r.ID, r.Status, r.Err())
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d runs did not finish: see tinyml run logs RUN", failed, len(runs))
	}
	return nil
}

// progress prints a line per step transition while runs execute; it is quiet when stderr is
// not a terminal (scripts read exit codes and JSON).
func (a *app) progress(ctx context.Context, s *tinyml.Studio, ids []string) func() {
	if !isTerminal(a.stderr) {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	events := s.Subscribe(ctx, "")
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		finished := 0
		for e := range events {
			if !want[e.Run] {
				continue
			}
			mark := map[tinyml.Status]string{tinyml.Running: "…", tinyml.Generated: "✓", tinyml.Failed: "✗", tinyml.Canceled: "–"}[e.Status]
			if e.Step == tinyml.StepInference && e.Status.Done() {
				finished++
			}
			line := fmt.Sprintf("[%d/%d] %s %-9s %s %s", finished, len(ids), e.Run, e.Step, mark, e.Status)
			if e.Error != "" {
				line += ": " + e.Error
			}
			fmt.Fprintln(a.stderr, line)
		}
	}()
	return func() { cancel(); <-done }
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (a *app) runListCmd() *cobra.Command {
	var project, status string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--project P]",
		Short: "List runs with their status and headline metrics",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			runs, err := s.Runs(cmd.Context(), tinyml.RunFilter{Project: project, Status: tinyml.Status(status)})
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(nonNil(runs))
			}
			return a.runTable(runs)
		},
	}
	cmd.Flags().StringVar(&project, "project", "", "only this project's runs")
	cmd.Flags().StringVar(&status, "status", "", "only runs with this status")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	return cmd
}

// runTable prints the comparison table of runs.
func (a *app) runTable(runs []*tinyml.Run) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tMODEL\tTECHNIQUE\tDEVICE\tSTATUS\tACCURACY\tAGREE\tP50 MS\tP90 MS\tINSTALLED\tPARAMS≠0\tARENA\tPEAK MEM")
	for _, r := range runs {
		acc, agree, p50, p90, size, nz, arena, peak := "-", "-", "-", "-", "-", "-", "-", "-"
		if m := r.Metrics; m != nil {
			if m.Samples > 0 {
				acc = fmt.Sprintf("%.2f%%", 100*m.Accuracy)
				p50, p90 = fmtMS(m.Latency.P50), fmtMS(m.Latency.P90)
			}
			if m.Agreement != nil {
				agree = fmt.Sprintf("%.1f%%", 100**m.Agreement)
			}
			if m.PackedBytes > 0 {
				size = humanBytes(m.PackedBytes)
				nz = fmt.Sprintf("%d", m.NonZeroParams)
				arena = humanBytes(m.ArenaBytes)
			}
			if m.PeakMemoryBytes > 0 {
				peak = humanBytes(m.PeakMemoryBytes)
			}
		}
		status := string(r.Status)
		if e := r.Err(); e != "" {
			status += " (" + strings.SplitN(e, ":", 2)[0] + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, shortRef(r.Model), r.Technique, r.Device, status, acc, agree, p50, p90, size, nz, arena, peak)
	}
	return tw.Flush()
}

func (a *app) runShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show RUN",
		Short: "Show a run: steps, errors and metrics",
		Args:  exactArgs(1, "a run ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			r, err := s.Run(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(r)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "run\t%s (project %s)\n", r.ID, r.Project)
			fmt.Fprintf(tw, "model\t%s\ndataset\t%s\ntechnique\t%s\ndevice\t%s\nstatus\t%s\n", r.Model, r.Dataset, r.Technique, r.Device, r.Status)
			for _, st := range r.Steps {
				line := string(st.Status)
				if st.Started != nil && st.Finished != nil {
					line += fmt.Sprintf(" in %s", st.Finished.Sub(*st.Started).Round(time.Millisecond))
				}
				if st.Error != "" {
					line += ": " + st.Error
				}
				fmt.Fprintf(tw, "  %s\t%s\n", st.Name, line)
			}
			if m := r.Metrics; m != nil {
				fmt.Fprintf(tw, "accuracy\t%.2f%% (%d/%d)\n", 100*m.Accuracy, m.Correct, m.Samples)
				fmt.Fprintf(tw, "latency\tp50 %.3f ms, p90 %.3f ms, p99 %.3f ms (load %.1f ms)\n", m.Latency.P50, m.Latency.P90, m.Latency.P99, m.LoadMS)
				fmt.Fprintf(tw, "size\tONNX %s, installed %s, gzip %s\n", humanBytes(m.ModelBytes), humanBytes(m.PackedBytes), humanBytes(m.GzipBytes))
				fmt.Fprintf(tw, "params\t%d (%d non-zero), %d MACs/sample\n", m.Params, m.NonZeroParams, m.MACs)
				fmt.Fprintf(tw, "memory\tarena %s, peak %s\n", humanBytes(m.ArenaBytes), humanBytes(m.PeakMemoryBytes))
				if m.Agreement != nil {
					fmt.Fprintf(tw, "vs none\t%.2f%% same top-1, max |diff| %.3g\n", 100**m.Agreement, *m.MaxDiff)
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	return cmd
}

func (a *app) runLogsCmd() *cobra.Command {
	var step string
	cmd := &cobra.Command{
		Use:   "logs RUN [--step S]",
		Short: "Print a run's step logs",
		Args:  exactArgs(1, "a run ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			logs, err := s.Logs(cmd.Context(), args[0], tinyml.StepName(step))
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(a.stdout, logs)
			return err
		},
	}
	cmd.Flags().StringVar(&step, "step", "", "model, dataset, compile, install or inference (default: all)")
	return cmd
}

func (a *app) runCancelCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cancel RUN",
		Short: "Cancel a run: its job is stopped and unfinished steps end canceled",
		Args:  exactArgs(1, "a run ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.Cancel(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "run %s canceled\n", args[0])
			return nil
		},
	}
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Sprintf("%s takes %s (see %s --help)", cmd.CommandPath(), what, cmd.CommandPath())}
		}
		return nil
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func shortRef(ref string) string {
	if i := strings.LastIndexAny(ref, "/\\"); i >= 0 && !strings.HasPrefix(ref, "hf://") {
		return ref[i+1:]
	}
	return ref
}

func tinymlFilter(project string) tinyml.RunFilter { return tinyml.RunFilter{Project: project} }

// fmtMS prints milliseconds with three significant digits, so microsecond latencies stay legible.
func fmtMS(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3g", v)
}

// parseSize reads sizes like 256KiB (the same syntax as device limits).
func parseSize(s string) (int64, error) { return device.ParseBytes(s) }

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
