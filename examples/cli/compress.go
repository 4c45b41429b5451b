package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tinymlaas/tinyml/compress"
)

// packedPath names the packed artifact written beside a compressed ONNX file: m.onnx → m.tmlpack
// (any other name gets .tmlpack appended).
func packedPath(out string) string {
	if strings.EqualFold(filepath.Ext(out), ".onnx") {
		return strings.TrimSuffix(out, filepath.Ext(out)) + ".tmlpack"
	}
	return out + ".tmlpack"
}

// compressResult is what `tinyml compress --json` prints.
type compressResult struct {
	Model    string                `json:"model"`
	Spec     string                `json:"spec"`
	Out      string                `json:"out"`
	Packed   string                `json:"packed"`
	Figures  compress.Figures      `json:"figures"`
	Baseline compress.Figures      `json:"baseline"` // the input after `none`, for comparison
	Notes    []compress.Note       `json:"notes"`
	Tensors  []compress.TensorInfo `json:"tensors"`
}

func (a *app) compressCmd() *cobra.Command {
	var model, spec, calib, out, packed string
	var seed int64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "compress --model M --spec SPEC [--calib D] --out FILE",
		Short: "Compress a model with a catalogue technique or chain; write the ONNX model and its packed artifact",
		Long: `Compress a model with a technique of the catalogue (tinyml catalogue lists them) or a chain of
them, e.g. --spec 'prune(sparsity=0.5) | int8-static(calib=200)'.

Every chain starts with the lossless clean-up of 'none'. Techniques that calibrate (int8-static,
and prune/cluster's data-aware method) read --calib, a dataset like the one the model will see.

Writes the compressed model to --out (standard ONNX: onnxruntime runs it too) and the packed
artifact a device installs beside it: FILE.onnx → FILE.tmlpack (or --packed PATH). The packed
artifact stores each weight in its smallest exact encoding (sparse, clustered, int8, float16) and
loads back to exactly the same model. Prints the static figures: parameters, nonzero parameters,
MACs, ONNX / packed / gzip bytes and the activation arena, next to the uncompressed model's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := required(cmd, "model", "spec", "out"); err != nil {
				return err
			}
			chain, err := compress.Parse(spec)
			if err != nil {
				return err
			}
			if packed == "" {
				packed = packedPath(out)
			}
			if filepath.Clean(packed) == filepath.Clean(out) {
				return usageError{"--packed and --out name the same file; give them different names"}
			}
			opts := compress.FileOptions{Calib: calib, Seed: seed}
			art, err := compress.CompileFile(cmd.Context(), model, chain, opts)
			if err != nil {
				return err
			}
			base, err := compress.CompileFile(cmd.Context(), model, compress.Chain{{Technique: "none"}}, compress.FileOptions{})
			if err != nil {
				return err
			}
			if err := writeFileAtomic(out, art.ONNX); err != nil {
				return err
			}
			if err := writeFileAtomic(packed, art.Packed); err != nil {
				return err
			}
			res := compressResult{Model: model, Spec: art.Spec, Out: out, Packed: packed, Figures: art.Figures,
				Baseline: base.Figures, Notes: art.Notes, Tensors: art.Tensors}
			if res.Notes == nil {
				res.Notes = []compress.Note{}
			}
			if asJSON {
				return a.printJSON(res)
			}
			return printFigures(a, res)
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "ONNX model file (or a packed .tmlpack artifact)")
	f.StringVar(&spec, "spec", "", "technique or chain, e.g. 'prune(sparsity=0.5) | int8-static'")
	f.StringVar(&calib, "calib", "", "calibration dataset: .csv, .npy (+ y.npy), .npz, or a directory")
	f.StringVar(&out, "out", "", "where to write the compressed ONNX model")
	f.StringVar(&packed, "packed", "", "where to write the packed artifact (default: --out with .tmlpack for .onnx)")
	f.Int64Var(&seed, "seed", 0, "0 calibrates on the first samples; another value on a reproducible random choice")
	f.BoolVar(&asJSON, "json", false, "print one JSON document")
	return cmd
}

func printFigures(a *app, res compressResult) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s\n", res.Model)
	fmt.Fprintf(tw, "spec\t%s\n", res.Spec)
	fmt.Fprintf(tw, "wrote\t%s (ONNX), %s (packed)\n\n", res.Out, res.Packed)
	fmt.Fprintln(tw, "\tcompressed\tuncompressed\tratio")
	row := func(name string, v, base int64) {
		ratio := "-"
		if base > 0 {
			ratio = fmt.Sprintf("%.3f", float64(v)/float64(base))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", name, v, base, ratio)
	}
	f, b := res.Figures, res.Baseline
	row("parameters", f.Params, b.Params)
	row("nonzero parameters", f.NonZeroParams, b.NonZeroParams)
	row("MACs / sample", f.MACs, b.MACs)
	row("ONNX bytes", f.ONNXBytes, b.ONNXBytes)
	row("packed bytes", f.PackedBytes, b.PackedBytes)
	row("gzip bytes (ONNX)", f.GzipBytes, b.GzipBytes)
	row("arena bytes (batch 1)", f.ArenaBytes, b.ArenaBytes)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(res.Notes) > 0 {
		fmt.Fprintln(a.stdout, "\nnotes:")
		for _, n := range res.Notes {
			fmt.Fprintf(a.stdout, "  %s\n", n)
		}
	}
	return nil
}

// writeFileAtomic writes a file through a temporary one renamed over it: a reader never sees
// half a file.
func writeFileAtomic(path string, b []byte) error {
	tmp, err := os.CreateTemp(dirOf(path), ".compress-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (a *app) catalogueCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "catalogue",
		Short: "List the compression techniques, their parameters, defaults and ranges",
		Long: `List the compression techniques of tinyml compress and run create --compress: each one's
parameters with their type, default and allowed values. Chain techniques with '|':
'prune(sparsity=0.5) | int8-static | cluster'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cat := compress.Catalogue()
			if asJSON {
				return a.printJSON(cat)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TECHNIQUE / parameter\tTYPE\tDEFAULT\tALLOWED\tDESCRIPTION")
			for _, t := range cat {
				desc := t.Description
				if t.Calibrates {
					desc += " [needs --calib]"
				}
				fmt.Fprintf(tw, "%s\t\t\t\t%s\n", t.Name, desc)
				for _, p := range t.Params {
					fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", p.Name, p.Type, p.Default, p.Range(), p.Doc)
				}
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	return cmd
}
