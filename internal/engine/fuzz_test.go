package engine

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tinymlaas/tinyml/internal/onnx"
	"github.com/tinymlaas/tinyml/internal/testenv"
)

// FuzzCompileAndRun: whatever model bytes arrive, the engine answers with a model that runs or
// an error, never a panic.
func FuzzCompileAndRun(f *testing.F) {
	for _, name := range []string{"digits_mlp", "digits_cnn"} {
		if b, err := os.ReadFile(testenv.RepoFile(f, "testdata/models/"+name+".onnx")); err == nil {
			f.Add(b)
		}
	}
	if paths, _ := filepath.Glob("/usr/share/libonnx-testdata/data/node/test_*/model.onnx"); len(paths) > 0 {
		for i := 0; i < len(paths); i += 25 {
			if b, err := os.ReadFile(paths[i]); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		om, err := onnx.Decode(b)
		if err != nil {
			return
		}
		m, err := Compile(om)
		if err != nil {
			return
		}
		shapes := map[string][]int{}
		for _, in := range m.Inputs() {
			s := make([]int, len(in.Shape))
			n := 1
			for i, d := range in.Shape {
				s[i] = max(d, 1)
				n *= s[i]
			}
			if n > 1<<20 {
				return
			}
			shapes[in.Name] = s
		}
		p, err := m.Plan(shapes)
		if err != nil {
			return
		}
		defer p.Close()
		if p.ArenaBytes() > 1<<28 {
			return
		}
		var ins []*Tensor
		for i, in := range m.Inputs() {
			dt := in.DType
			if dt.Size() == 0 {
				return
			}
			ins = append(ins, NewTensor(dt, p.InputShape(i)...))
		}
		_, _ = p.Run(context.Background(), ins...)
	})
}
