package compress

import (
	"context"
	"fmt"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/tinymlaas/tinyml/internal/engine"
	"github.com/tinymlaas/tinyml/internal/onnx"
)

// Second-order statistics of each layer's input, for data-aware pruning: H = Σ x̃ x̃ᵀ over the
// calibration samples, where x̃ is one input row of the layer's matrix product (a Gemm row, or
// a Conv patch as im2col lays it out, per group) with a trailing 1 for the bias.

// layerHessian is H for each group of a layer (one for Gemm/MatMul and ungrouped Conv).
type layerHessian struct {
	k      int                // inputs per group (without the bias 1)
	kRef   int                // the same in the reference model
	groups []blas64.Symmetric // (k+1)×(k+1), upper triangle filled
	cross  []blas64.General   // C = Σ x̃_ref x̃ᵀ per group, when a reference model was given
	rows   int                // input rows accumulated
}

// convGeom is what im2col needs of a Conv.
type convGeom struct {
	c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, group int
}

func (r *run) convGeometry(n *onnx.Node, wDims []int64, inShape []int) (convGeom, error) {
	if len(inShape) != 4 || len(wDims) != 4 {
		return convGeom{}, fmt.Errorf("only 2-D convolutions are supported")
	}
	switch ap := n.AttrString("auto_pad", "NOTSET"); ap {
	case "NOTSET", "VALID":
	default:
		return convGeom{}, fmt.Errorf("auto_pad %s is not supported", ap)
	}
	g := convGeom{c: inShape[1], h: inShape[2], w: inShape[3], kh: int(wDims[2]), kw: int(wDims[3]),
		sh: 1, sw: 1, dh: 1, dw: 1, group: int(n.AttrInt("group", 1))}
	if s := n.AttrInts("strides", nil); len(s) == 2 {
		g.sh, g.sw = int(s[0]), int(s[1])
	}
	if d := n.AttrInts("dilations", nil); len(d) == 2 {
		g.dh, g.dw = int(d[0]), int(d[1])
	}
	pb, pr := 0, 0
	if p := n.AttrInts("pads", nil); len(p) == 4 && n.AttrString("auto_pad", "NOTSET") == "NOTSET" {
		g.pt, g.pl, pb, pr = int(p[0]), int(p[1]), int(p[2]), int(p[3])
	}
	g.oh = (g.h+g.pt+pb-((g.kh-1)*g.dh+1))/g.sh + 1
	g.ow = (g.w+g.pl+pr-((g.kw-1)*g.dw+1))/g.sw + 1
	if g.group < 1 || g.c%g.group != 0 || g.oh < 1 || g.ow < 1 {
		return convGeom{}, fmt.Errorf("geometry does not fit")
	}
	return g, nil
}

// hessians runs the calibration samples and accumulates H for each layer. With ref (the model
// before pruning began), it also accumulates each layer's cross moment C = Σ x̃_ref x̃ᵀ between
// its input in ref and in the current model, for the same samples.
func (r *run) hessians(layers []layer, samples int, ref *onnx.Model) (map[*onnx.Node]*layerHessian, error) {
	ds, err := r.calibSamples(params{tech: r.tech, vals: map[string]Value{"calib": IntValue(int64(samples))}})
	if err != nil {
		return nil, err
	}
	expose := func(m *onnx.Model) (*engine.Model, map[string]int, error) {
		c := m.Clone()
		for _, l := range layers {
			if !slices.ContainsFunc(c.Graph.Outputs, func(v onnx.ValueInfo) bool { return v.Name == l.node.Inputs[0] }) {
				c.Graph.Outputs = append(c.Graph.Outputs, onnx.ValueInfo{Name: l.node.Inputs[0]})
			}
		}
		em, err := engine.Compile(c)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: the float model does not run in the engine: %w", r.tech, err)
		}
		idx := map[string]int{}
		for i, o := range em.Outputs() {
			idx[o.Name] = i
		}
		return em, idx, nil
	}
	em, outIndex, err := expose(r.m)
	if err != nil {
		return nil, err
	}
	var refModel *engine.Model
	var refIndex map[string]int
	if ref != nil {
		if refModel, refIndex, err = expose(ref); err != nil {
			return nil, err
		}
	}
	hs := map[*onnx.Node]*layerHessian{}
	skip := map[*onnx.Node]bool{}
	gc := &gramCalc{ctx: r.ctx}
	defer gc.close()
	err = runBatches(r, em, refModel, ds, func(outs, refOuts []*engine.Tensor) {
		for _, l := range layers {
			x := outs[outIndex[l.node.Inputs[0]]]
			if x.DType != onnx.Float || skip[l.node] {
				continue
			}
			var xr *engine.Tensor
			if refOuts != nil {
				xr = refOuts[refIndex[l.node.Inputs[0]]]
			}
			h := hs[l.node]
			if err := r.accumulate(gc, &h, l, x, xr); err != nil {
				r.note(l.node.Label(), "no input statistics (%v): pruned by magnitude", err)
				skip[l.node] = true
				delete(hs, l.node)
				continue
			}
			hs[l.node] = h
		}
	})
	if err != nil {
		return nil, err
	}
	return hs, nil
}

// accumulate adds one batch of a layer's input x (and its reference input xr) to its moments.
// The reference input may be wider (channels removed since): C is then (k_ref+1)×(k+1).
func (r *run) accumulate(gc *gramCalc, hp **layerHessian, l layer, x, xr *engine.Tensor) error {
	p, rows, k, groups, err := r.patches(l, x)
	if err != nil {
		return err
	}
	var pr [][]float32
	kr := k
	if xr != nil {
		var rrows, rgroups int
		if pr, rrows, kr, rgroups, err = r.patches(l, xr); err != nil {
			return err
		}
		if rrows != rows || rgroups != groups {
			return fmt.Errorf("the reference input has another layout")
		}
	}
	h := ensureHessian(hp, k, kr, groups, xr != nil)
	if h.k != k || h.kRef != kr {
		return fmt.Errorf("the input changed size between batches")
	}
	for g := range groups {
		if err := gc.add(h.groups[g].Data, p[g], p[g], rows, k+1, k+1); err != nil {
			return err
		}
		if pr != nil {
			if err := gc.add(h.cross[g].Data, pr[g], p[g], rows, kr+1, k+1); err != nil {
				return err
			}
		}
	}
	h.rows += rows
	return nil
}

// gramCalc computes AᵀB of rows×n matrices with the engine's GEMM (a Gemm node with
// transA=1), much faster than a float64 loop; sums of a batch's products stay well within
// float32's precision, and the totals are kept in float64.
type gramCalc struct {
	ctx   context.Context
	plans map[[3]int]*engine.Plan
}

func (gc *gramCalc) add(dst []float64, a, b []float32, rows, na, nb int) error {
	key := [3]int{rows, na, nb}
	p := gc.plans[key]
	if p == nil {
		g := &onnx.Graph{Name: "gram",
			Inputs: []onnx.ValueInfo{
				{Name: "A", DType: onnx.Float, Shape: []onnx.Dim{{Value: int64(rows)}, {Value: int64(na)}}},
				{Name: "B", DType: onnx.Float, Shape: []onnx.Dim{{Value: int64(rows)}, {Value: int64(nb)}}}},
			Outputs: []onnx.ValueInfo{{Name: "C", DType: onnx.Float}},
			Nodes: []*onnx.Node{{OpType: "Gemm", Inputs: []string{"A", "B"}, Outputs: []string{"C"},
				Attrs: []onnx.Attr{attrInt("transA", 1)}}},
		}
		em, err := engine.Compile(&onnx.Model{IRVersion: 8, Opsets: []onnx.OpsetID{{Version: 13}}, Graph: g})
		if err != nil {
			return err
		}
		if p, err = em.Plan(map[string][]int{"A": {rows, na}, "B": {rows, nb}}); err != nil {
			return err
		}
		if gc.plans == nil {
			gc.plans = map[[3]int]*engine.Plan{}
		}
		gc.plans[key] = p
	}
	out, err := p.Run(gc.ctx, engine.Wrap(a, rows, na), engine.Wrap(b, rows, nb))
	if err != nil {
		return err
	}
	for i, v := range engine.F32(out[0]) {
		dst[i] += float64(v)
	}
	return nil
}

func (gc *gramCalc) close() {
	for _, p := range gc.plans {
		p.Close()
	}
}

// patches lays out one batch of a layer's input as, per group, a matrix of rows×(k+1): one row
// per product the layer computes (a Gemm row, a Conv output position), the inputs it reads in
// the weights' order, then a 1 for the bias.
func (r *run) patches(l layer, x *engine.Tensor) (p [][]float32, rows, k, groups int, err error) {
	xs := engine.F32(x)
	n := l.node
	switch n.OpType {
	case "Gemm", "MatMul":
		if n.OpType == "Gemm" && n.AttrInt("transA", 0) != 0 {
			return nil, 0, 0, 0, fmt.Errorf("transA=1")
		}
		if len(x.Shape) == 0 {
			return nil, 0, 0, 0, fmt.Errorf("input %v", x.Shape)
		}
		k = x.Shape[len(x.Shape)-1]
		rows = len(xs) / k
		m := make([]float32, rows*(k+1))
		for i := range rows {
			copy(m[i*(k+1):], xs[i*k:(i+1)*k])
			m[i*(k+1)+k] = 1
		}
		return [][]float32{m}, rows, k, 1, nil
	case "Conv":
		g, err := r.convGeometry(n, l.dims, x.Shape)
		if err != nil {
			return nil, 0, 0, 0, err
		}
		cg := g.c / g.group
		k = cg * g.kh * g.kw
		batch := x.Shape[0]
		positions := g.oh * g.ow
		// Big inputs have far more positions than the statistics need: take every stride-th
		// (starting at a different one in each image), some 64·k rows per batch.
		stride := max(1, positions*batch/(64*(k+1)))
		var picks [][2]int // (image, position)
		for img := range batch {
			for pos := img % stride; pos < positions; pos += stride {
				picks = append(picks, [2]int{img, pos})
			}
		}
		rows = len(picks)
		p = make([][]float32, g.group)
		for grp := range g.group {
			m := make([]float32, rows*(k+1))
			for i, pk := range picks {
				img, oy, ox := pk[0], pk[1]/g.ow, pk[1]%g.ow
				row := m[i*(k+1):]
				for ic := range cg {
					plane := xs[((img*g.c)+grp*cg+ic)*g.h*g.w:]
					for ky := range g.kh {
						y := oy*g.sh - g.pt + ky*g.dh
						if y < 0 || y >= g.h {
							continue
						}
						for kx := range g.kw {
							xx := ox*g.sw - g.pl + kx*g.dw
							if xx < 0 || xx >= g.w {
								continue
							}
							row[(ic*g.kh+ky)*g.kw+kx] = plane[y*g.w+xx]
						}
					}
				}
				row[k] = 1
			}
			p[grp] = m
		}
		return p, rows, k, g.group, nil
	}
	return nil, 0, 0, 0, fmt.Errorf("%s", n.OpType)
}

func ensureHessian(hp **layerHessian, k, kRef, groups int, cross bool) *layerHessian {
	if *hp == nil {
		h := &layerHessian{k: k, kRef: kRef, groups: make([]blas64.Symmetric, groups)}
		for i := range h.groups {
			h.groups[i] = blas64.Symmetric{Uplo: blas.Upper, N: k + 1, Stride: k + 1, Data: make([]float64, (k+1)*(k+1))}
		}
		if cross {
			h.cross = make([]blas64.General, groups)
			for i := range h.cross {
				h.cross[i] = blas64.General{Rows: kRef + 1, Cols: k + 1, Stride: k + 1, Data: make([]float64, (kRef+1)*(k+1))}
			}
		}
		*hp = h
	}
	return *hp
}
