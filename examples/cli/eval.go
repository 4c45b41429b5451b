package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tinymlaas/tinyml/tinyml"
)

func (a *app) evalCmd() *cobra.Command {
	var model, data string
	var batch, repeat, threads int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "eval --model M --dataset D",
		Short: "Run a model over a labelled dataset in-process: accuracy and latency",
		Long: `Run a model over a labelled dataset in-process and report accuracy and latency.

Latency is per inference call of --batch samples (default 1), timed over --repeat passes over the
dataset (default 1); the model's load time is reported separately.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "model", "dataset"); err != nil {
				return err
			}
			m, err := tinyml.LoadModel(model, tinyml.WithThreads(threads))
			if err != nil {
				return err
			}
			defer m.Close()
			ds, err := tinyml.LoadDataset(data)
			if err != nil {
				return err
			}
			if ds.Labels() == nil {
				return fmt.Errorf("dataset %s has no labels; eval needs them (use tinyml predict for raw outputs)", data)
			}
			res, err := tinyml.Evaluate(cmd.Context(), m, ds, tinyml.EvalOptions{Batch: batch, Repeat: repeat})
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(res)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "model\t%s\n", model)
			fmt.Fprintf(tw, "dataset\t%s (%d samples)\n", data, res.Samples)
			fmt.Fprintf(tw, "accuracy\t%.2f%% (%d/%d)\n", 100*res.Accuracy, res.Correct, res.Samples)
			if res.Top5 > 0 {
				fmt.Fprintf(tw, "top-5\t%.2f%%\n", 100*res.Top5)
			}
			fmt.Fprintf(tw, "load\t%.2f ms\n", res.LoadMS)
			l := res.Latency
			fmt.Fprintf(tw, "latency / call of %d\tmin %.4f  p50 %.4f  p90 %.4f  p99 %.4f  mean %.4f ms\n", res.Batch, l.Min, l.P50, l.P90, l.P99, l.Mean)
			fmt.Fprintf(tw, "throughput\t%.0f samples/s\n", res.Throughput)
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "ONNX model file")
	f.StringVar(&data, "dataset", "", "labelled dataset: .csv, .npy (+ y.npy), .npz, or a directory")
	f.IntVar(&batch, "batch", 1, "samples per inference call")
	f.IntVar(&repeat, "repeat", 1, "timed passes over the dataset")
	f.IntVar(&threads, "threads", 1, "goroutines per inference call (0: one per CPU)")
	f.BoolVar(&asJSON, "json", false, "print one JSON document")
	return cmd
}

func (a *app) predictCmd() *cobra.Command {
	var model, data, out string
	var batch, threads int
	cmd := &cobra.Command{
		Use:   "predict --model M --dataset D --out FILE",
		Short: "Write the model's raw outputs for every sample, one comma-separated line each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "model", "dataset", "out"); err != nil {
				return err
			}
			m, err := tinyml.LoadModel(model, tinyml.WithThreads(threads))
			if err != nil {
				return err
			}
			defer m.Close()
			ds, err := tinyml.LoadDataset(data)
			if err != nil {
				return err
			}
			tmp, err := os.CreateTemp(dirOf(out), ".predict-*")
			if err != nil {
				return err
			}
			defer os.Remove(tmp.Name())
			w := bufio.NewWriter(tmp)
			var buf []byte
			err = tinyml.Predict(cmd.Context(), m, ds, batch, func(_ int, outputs []float32) {
				buf = buf[:0]
				for i, v := range outputs {
					if i > 0 {
						buf = append(buf, ',')
					}
					buf = strconv.AppendFloat(buf, float64(v), 'g', -1, 32)
				}
				buf = append(buf, '\n')
				w.Write(buf)
			})
			if err == nil {
				err = w.Flush()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			// Rename only a complete file over the destination.
			return os.Rename(tmp.Name(), out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "ONNX model file")
	f.StringVar(&data, "dataset", "", "dataset: .csv, .npy, .npz, or a directory (labels optional)")
	f.StringVar(&out, "out", "", "output file")
	f.IntVar(&batch, "batch", 64, "samples per inference call")
	f.IntVar(&threads, "threads", 1, "goroutines per inference call (0: one per CPU)")
	return cmd
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if os.IsPathSeparator(path[i]) {
			return path[:i+1]
		}
	}
	return "."
}
