package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tinymlaas/tinyml/internal/onnx"
	"github.com/tinymlaas/tinyml/internal/testenv"
)

// conformanceDirs are the folders of ONNX's backend test data run by TestONNXConformance: one
// operator per model (node), and small models exported from PyTorch.
var conformanceDirs = []string{"node", "pytorch-converted", "pytorch-operator", "simple"}

type conformanceSet struct {
	inputs, outputs []*onnx.Tensor
}

// conformanceTally counts outcomes per operator. A case counts as runnable (and passed or not)
// under every operator of its graph; a case the engine refuses counts as not runnable under the
// operator it names.
type conformanceTally struct {
	mu                                           sync.Mutex
	runnable, passed, bound, notRunnable         map[string]int
	totalRunnable, totalPassed, totalNotRunnable int
	totalBound                                   int                 // runnable cases run with their integer inputs bound as constants
	refusals                                     map[string][]string // op → the reasons given
	planned                                      []plannedCase       // runnable cases, for the allocation check
}

// plannedCase is a plan that passed, kept to check afterwards (alone, as allocation counts are
// process-wide) that running it allocates nothing.
type plannedCase struct {
	name string
	plan *Plan
	feed []*Tensor
}

// loadConformanceSets reads a case's data sets. ONNX 1.12 keeps bfloat16 data as uint16 tensors;
// those are read as bfloat16 where the graph declares it.
func loadConformanceSets(path string, g *onnx.Graph) ([]conformanceSet, error) {
	dirs, err := filepath.Glob(filepath.Join(path, "test_data_set_*"))
	if err != nil {
		return nil, err
	}
	sort.Strings(dirs)
	var sets []conformanceSet
	for _, s := range dirs {
		var set conformanceSet
		for _, kind := range []string{"input", "output"} {
			decl := g.RuntimeInputs()
			if kind == "output" {
				decl = g.Outputs
			}
			for k := 0; ; k++ {
				b, err := os.ReadFile(filepath.Join(s, fmt.Sprintf("%s_%d.pb", kind, k)))
				if errors.Is(err, os.ErrNotExist) {
					break
				}
				if err != nil {
					return nil, err
				}
				t, err := onnx.DecodeTensor(b)
				if err != nil {
					return nil, fmt.Errorf("%s/%s_%d.pb: %w", s, kind, k, err)
				}
				if k < len(decl) && decl[k].DType == onnx.BFloat16 && t.DType == onnx.Uint16 {
					t.DType = onnx.BFloat16
				}
				if kind == "input" {
					set.inputs = append(set.inputs, t)
				} else {
					set.outputs = append(set.outputs, t)
				}
			}
		}
		sets = append(sets, set)
	}
	return sets, nil
}

// fixDeclaredShapes drops an input's declared shape where the test data contradicts it (a few
// ONNX 1.12 cases declare [3 4] and feed [1]) so that the engine plans for the data.
func fixDeclaredShapes(t *testing.T, m *onnx.Model, sets []conformanceSet) {
	for i, in := range m.Graph.RuntimeInputs() {
		for _, s := range sets {
			if i >= len(s.inputs) || in.Shape == nil {
				continue
			}
			dims := s.inputs[i].Dims
			ok := len(dims) == len(in.Shape)
			for j := 0; ok && j < len(dims); j++ {
				ok = !in.Shape[j].Known() || in.Shape[j].Value == dims[j]
			}
			if ok {
				continue
			}
			t.Logf("the test data gives input %q shape %v; the model declares %s: planning for the data", in.Name, dims, declared(in.Shape))
			for k := range m.Graph.Inputs {
				if m.Graph.Inputs[k].Name == in.Name {
					m.Graph.Inputs[k].Shape = nil
				}
			}
		}
	}
}

// opsOf lists the distinct operator types of a model's graph.
func opsOf(m *onnx.Model) []string {
	var ops []string
	for _, n := range m.Graph.Nodes {
		op := n.OpType
		if n.Domain != "" {
			op = n.Domain + "." + op
		}
		if !slices.Contains(ops, op) {
			ops = append(ops, op)
		}
	}
	return ops
}

func (ct *conformanceTally) record(ops []string, passed, bound bool) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.totalRunnable++
	if bound {
		ct.totalBound++
	}
	if passed {
		ct.totalPassed++
	}
	for _, op := range ops {
		ct.runnable[op]++
		if bound {
			ct.bound[op]++
		}
		if passed {
			ct.passed[op]++
		}
	}
}

func (ct *conformanceTally) refuse(op, reason string) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ct.totalNotRunnable++
	ct.notRunnable[op]++
	if !slices.Contains(ct.refusals[op], reason) {
		ct.refusals[op] = append(ct.refusals[op], reason)
	}
}

func (ct *conformanceTally) table() string {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	ops := map[string]bool{}
	for _, m := range []map[string]int{ct.runnable, ct.notRunnable} {
		for op := range m {
			ops[op] = true
		}
	}
	names := make([]string, 0, len(ops))
	for op := range ops {
		names = append(names, op)
	}
	sort.Strings(names)
	var sb strings.Builder
	row := func(op string, a, b, c, d int) { fmt.Fprintf(&sb, "%-34s %9d %7d %13d %6d\n", op, a, b, c, d) }
	fmt.Fprintf(&sb, "%-34s %9s %7s %13s %6s\n", "op", "runnable", "passed", "not runnable", "bound")
	for _, op := range names {
		row(op, ct.runnable[op], ct.passed[op], ct.notRunnable[op], ct.bound[op])
	}
	row("total (cases)", ct.totalRunnable, ct.totalPassed, ct.totalNotRunnable, ct.totalBound)
	sb.WriteString("\nA runnable case counts under every operator of its graph; a refused case under the operator the engine refused.\n")
	sb.WriteString("\"bound\": the engine plans for constant shapes and refused the case's integer inputs (shapes, axes, pads,\n")
	sb.WriteString("indices) as run-time values, so they ran bound as constants, and if need be its small inputs too (scales, roi,\n")
	sb.WriteString("Range bounds: at most 1-D, 8 values); the kernels still run, at plan time where all their inputs are bound.\n")
	sb.WriteString("\nWhy cases are not runnable:\n")
	for _, op := range names {
		for _, r := range ct.refusals[op] {
			fmt.Fprintf(&sb, "  %s: %s\n", op, r)
		}
	}
	return sb.String()
}

// TestONNXConformance runs ONNX's backend test cases (Debian's libonnx-testdata): every case the
// engine accepts must reproduce the expected outputs within the backend tests' tolerance; a case
// the engine refuses with ErrUnsupported is skipped and counted. The per-operator table is logged
// and, when CONFORMANCE_REPORT names a file, written there.
func TestONNXConformance(t *testing.T) {
	root := testenv.OnnxTestdata(t)
	tally := &conformanceTally{runnable: map[string]int{}, passed: map[string]int{}, bound: map[string]int{},
		notRunnable: map[string]int{}, refusals: map[string][]string{}}
	t.Cleanup(func() {
		tally.checkNoAllocs(t)
		report := tally.table()
		t.Logf("ONNX conformance:\n%s", report)
		if path := os.Getenv("CONFORMANCE_REPORT"); path != "" {
			if err := os.WriteFile(path, []byte(report), 0o644); err != nil {
				t.Errorf("write the conformance report: %v", err)
			}
		}
	})
	for _, dir := range conformanceDirs {
		entries, err := os.ReadDir(filepath.Join(root, dir))
		if err != nil {
			if dir == "node" {
				t.Fatal(err)
			}
			continue
		}
		for _, e := range entries {
			if !e.IsDir() {
				continue
			}
			name := e.Name()
			t.Run(dir+"/"+name, func(t *testing.T) {
				t.Parallel()
				runConformanceCase(t, tally, filepath.Join(root, dir), name)
			})
		}
	}
}

func runConformanceCase(t *testing.T, tally *conformanceTally, dir, name string) {
	model, err := onnx.Load(filepath.Join(dir, name, "model.onnx"))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	ops := opsOf(model)
	refused := func(err error) {
		var ue *UnsupportedOpError
		op, reason := "?", err.Error()
		if errors.As(err, &ue) {
			op, reason = ue.Op, ue.Reason
			if ue.Domain != "" {
				op = ue.Domain + "." + op
			}
			if reason == "" {
				reason = "the operator"
			}
		}
		tally.refuse(op, reason)
		t.Skipf("not runnable: %v", err)
	}
	// Refusals that need no data: an operator, a non-tensor input.
	if _, err := importGraph(model); errors.Is(err, ErrUnsupported) {
		refused(err)
	}
	for _, out := range model.Graph.Outputs {
		if out.NotTensor {
			refused(&UnsupportedOpError{Op: "graph output", Node: out.Name, Opset: model.OpsetVersion(""), Reason: "a non-tensor output"})
		}
	}
	sets, err := loadConformanceSets(filepath.Join(dir, name), model.Graph)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	// Tensors the engine cannot hold (strings) make the case not runnable.
	for _, s := range sets {
		for _, tt := range slices.Concat(s.inputs, s.outputs) {
			if tt.DType.Size() == 0 || tt.DType == onnx.Complex64 || tt.DType == onnx.Complex128 {
				refused(&UnsupportedOpError{Op: "graph input", Node: tt.Name, Opset: model.OpsetVersion(""),
					Reason: fmt.Sprintf("a %s tensor", tt.DType)})
			}
		}
	}
	fixDeclaredShapes(t, model, sets)
	bound := false
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("panic: %v\n%s", r, debug.Stack())
		}
		if !t.Skipped() {
			tally.record(ops, !t.Failed(), bound)
		}
	}()
	m, err := Compile(model)
	if err != nil && !errors.Is(err, ErrUnsupported) {
		t.Fatalf("compile: %v", err)
	}
	var names []string
	for _, in := range model.Graph.RuntimeInputs() {
		names = append(names, in.Name)
	}
	for si, s := range sets {
		if len(s.inputs) != len(names) {
			t.Fatalf("data set %d has %d inputs; the model takes %d", si, len(s.inputs), len(names))
		}
		var p *Plan
		var feed []*Tensor
		if m != nil {
			p, feed, err = planConformance(m, names, s.inputs)
		}
		// The engine plans for constant shapes: inputs that give shapes, axes, pads or scales
		// must be constants. Bind the data set's integer inputs, then also its small ones.
		for level := 1; level <= 2 && (m == nil || errors.Is(err, ErrUnsupported)); level++ {
			bound = true
			var bm *Model
			bm, err = Compile(bindInputs(model, s.inputs, level))
			if errors.Is(err, ErrUnsupported) {
				if level == 2 {
					refused(err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("compile with inputs bound: %v", err)
			}
			p, feed, err = planConformance(bm, names, s.inputs)
			if errors.Is(err, ErrUnsupported) && level == 2 {
				refused(err)
			}
		}
		if err != nil {
			t.Fatalf("plan for data set %d: %v", si, err)
		}
		got, err := p.Run(context.Background(), feed...)
		if err != nil {
			p.Close()
			t.Fatalf("run data set %d: %v", si, err)
		}
		if len(got) != len(s.outputs) {
			t.Fatalf("data set %d: %d outputs, want %d", si, len(got), len(s.outputs))
		}
		for i, want := range s.outputs {
			if msg := compareConformance(got[i], want); msg != "" {
				t.Errorf("data set %d output %d (%s): %s", si, i, p.OutputNames()[i], msg)
			}
		}
		if si > 0 || t.Failed() {
			p.Close()
			continue
		}
		tally.mu.Lock()
		tally.planned = append(tally.planned, plannedCase{name: t.Name(), plan: p, feed: feed})
		tally.mu.Unlock()
	}
}

// checkNoAllocs runs each kept plan again and fails for those whose Run allocates.
func (ct *conformanceTally) checkNoAllocs(t *testing.T) {
	ctx := context.Background()
	for _, c := range ct.planned {
		allocs := testing.AllocsPerRun(2, func() {
			if _, err := c.plan.Run(ctx, c.feed...); err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
		})
		if allocs > 0 {
			t.Errorf("%s: Run allocates (%v allocations per run)", c.name, allocs)
		}
		c.plan.Close()
	}
}

// planConformance plans m for the shapes of the data set's inputs, which are given for the
// original model's runtime inputs, in order; inputs bound as constants are left out of the feed.
func planConformance(m *Model, names []string, inputs []*onnx.Tensor) (*Plan, []*Tensor, error) {
	byName := map[string]*Tensor{}
	for i, ot := range inputs {
		t, err := fromONNX(ot)
		if err != nil {
			return nil, nil, err
		}
		byName[names[i]] = t
	}
	shapes := map[string][]int{}
	var feed []*Tensor
	for _, in := range m.Inputs() {
		t := byName[in.Name]
		if t == nil {
			return nil, nil, fmt.Errorf("no data for input %q", in.Name)
		}
		shapes[in.Name] = t.Shape
		feed = append(feed, t)
	}
	p, err := m.Plan(shapes)
	return p, feed, err
}

// bindInputs returns a copy of the model whose parameter-like runtime inputs are initializers
// holding the data set's values: at level 1 the integer inputs, at level 2 also inputs of at most
// one dimension and eight elements (scales, roi, Range bounds, OneHot's depth).
func bindInputs(m *onnx.Model, inputs []*onnx.Tensor, level int) *onnx.Model {
	c := m.Clone()
	for i, in := range m.Graph.RuntimeInputs() {
		t := inputs[i]
		small := len(t.Dims) <= 1 && t.NumElems() <= 8
		if t.DType != onnx.Int64 && t.DType != onnx.Int32 && (level < 2 || !small) {
			continue
		}
		t = t.Clone()
		t.Name = in.Name
		c.Graph.Initializers = append(c.Graph.Initializers, t)
	}
	return c
}

// compareConformance checks got against the expected tensor with the tolerance of ONNX's backend
// tests (|got − want| ≤ 1e-7 + 1e-3·|want| for floats; NaN matches NaN) and exactly for
// integers and bools. It returns "" when they agree.
func compareConformance(got *Tensor, want *onnx.Tensor) string {
	wantShape := make([]int, len(want.Dims))
	for i, d := range want.Dims {
		wantShape[i] = int(d)
	}
	if got.DType != want.DType || !sameShape(got.Shape, wantShape) {
		return fmt.Sprintf("got %s%v, want %s%v", got.DType, got.Shape, want.DType, wantShape)
	}
	w, err := fromONNX(want)
	if err != nil {
		return err.Error()
	}
	var bad []string
	nbad := 0
	for i := range got.Len() {
		var ok bool
		var g, e string
		if isFloat(got.DType) || got.DType == onnx.BFloat16 {
			gv, wv := loadF64(got, i), loadF64(w, i)
			ok = gv == wv || (math.IsNaN(gv) && math.IsNaN(wv)) || math.Abs(gv-wv) <= 1e-7+1e-3*math.Abs(wv)
			g, e = fmt.Sprint(gv), fmt.Sprint(wv)
		} else {
			gv, wv := loadI64(got, i), loadI64(w, i)
			ok = gv == wv
			g, e = fmt.Sprint(gv), fmt.Sprint(wv)
		}
		if !ok {
			nbad++
			if len(bad) < 5 {
				bad = append(bad, fmt.Sprintf("[%d] got %s want %s", i, g, e))
			}
		}
	}
	if nbad > 0 {
		return fmt.Sprintf("%d of %d elements differ: %s", nbad, got.Len(), strings.Join(bad, ", "))
	}
	return ""
}
