package compress

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tinymlaas/tinyml/internal/engine"
	"github.com/tinymlaas/tinyml/internal/testenv"
)

// TestOnnxruntimeRunsEveryTechnique writes each technique's model and checks that onnxruntime
// (node, examples/bench/ort) runs it and agrees with the engine. It needs node and the bench's
// node_modules, and takes a minute, so it runs only with ORT_INTEROP=1.
func TestOnnxruntimeRunsEveryTechnique(t *testing.T) {
	if os.Getenv("ORT_INTEROP") == "" {
		t.Skip("set ORT_INTEROP=1 to check the compressed models in onnxruntime (needs node and examples/bench/ort/node_modules)")
	}
	bench := testenv.RepoFile(t, "examples/bench/ort/bench.js")
	if _, err := os.Stat(filepath.Join(filepath.Dir(bench), "node_modules", "onnxruntime-node")); err != nil {
		t.Skip("examples/bench/ort/node_modules is missing (npm ci there)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is missing")
	}
	specs := []string{"none", "fp16", "int8-dynamic", "int8-dynamic(granularity=per-group, group_size=16)",
		"int8-dynamic(symmetric=false)", "int8-static", "int8-static(activations=int8)", "prune", "prune-channels",
		"cluster", "lowrank(rank=4)", "prune | int8-static | cluster"}
	if s := os.Getenv("ORT_SPECS"); s != "" {
		specs = strings.Split(s, ";")
	}
	dir := t.TempDir()
	for _, tm := range testModels {
		m := loadModel(t, tm.name)
		calib, test := loadSet(t, tm.calib), loadSet(t, tm.test)
		n := min(test.N, 200)
		for _, spec := range specs {
			t.Run(tm.name+"/"+spec, func(t *testing.T) {
				art, err := Compile(context.Background(), m, mustParse(t, spec), Options{Calib: calib})
				require.NoError(t, err)
				em, err := engine.Compile(art.Model)
				require.NoError(t, err)
				shape := append([]int{n}, em.Inputs()[0].Shape[1:]...)
				ds := *test
				require.NoError(t, ds.Fit(shape[1:]))
				x := ds.X[:n*ds.SampleLen()]
				p, err := em.PlanBatch(n)
				require.NoError(t, err)
				defer p.Close()
				out, err := p.Run(context.Background(), engine.Wrap(x, shape...))
				require.NoError(t, err)
				ours := engine.F32(out[0])

				modelPath := filepath.Join(dir, "model.onnx")
				require.NoError(t, os.WriteFile(modelPath, art.ONNX, 0o644))
				inPath := filepath.Join(dir, "x.f32")
				raw := make([]byte, 4*len(x))
				for i, v := range x {
					binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
				}
				require.NoError(t, os.WriteFile(inPath, raw, 0o644))
				dims := make([]string, len(shape))
				for i, d := range shape {
					dims[i] = fmt.Sprint(d)
				}
				cmd := exec.Command("node", bench, "--model", modelPath, "--input", inPath, "--shape", strings.Join(dims, ","),
					"--batch", fmt.Sprint(n), "--warmup", "0", "--reps", "1", "--check", "1")
				stdout, err := cmd.Output()
				if ee, ok := err.(*exec.ExitError); ok {
					t.Fatalf("onnxruntime refused the model: %s", ee.Stderr)
				}
				require.NoError(t, err)
				var res struct {
					Outputs []struct {
						Data string `json:"data"`
					} `json:"outputs"`
				}
				require.NoError(t, json.Unmarshal(stdout, &res))
				b, err := base64.StdEncoding.DecodeString(res.Outputs[0].Data)
				require.NoError(t, err)
				require.Equal(t, len(ours)*4, len(b))
				theirs := make([]float32, len(ours))
				for i := range theirs {
					theirs[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
				}
				classes := len(ours) / n
				var maxDiff float64
				same := 0
				for i := range n {
					a, o := ours[i*classes:(i+1)*classes], theirs[i*classes:(i+1)*classes]
					if argmaxF(a) == argmaxF(o) {
						same++
					}
					for j := range a {
						maxDiff = math.Max(maxDiff, math.Abs(float64(a[j]-o[j])))
					}
				}
				agree := float64(same) / float64(n)
				t.Logf("%s %s: onnxruntime agrees on %.1f%% of top-1, max |diff| %.3g", tm.name, spec, 100*agree, maxDiff)
				require.GreaterOrEqual(t, agree, 0.97)
			})
		}
	}
}

func argmaxF(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
