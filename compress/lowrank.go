package compress

import (
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/tinymlaas/tinyml/internal/onnx"
)

// applyLowRank factorises the weights W (K×N, y = x·W) of each Gemm and MatMul by a truncated
// SVD, W ≈ (U·√S)(√S·Vᵀ), and writes the layer as two: x·W1 then ·W2, with the bias on the
// second. A layer is left alone when the factors would not hold fewer parameters than W.
func applyLowRank(r *run, p params) error {
	var layers []layer
	for _, l := range r.layers() {
		if l.node.OpType != "Conv" {
			layers = append(layers, l)
		}
	}
	if len(layers) == 0 {
		return r.modelError("", "the model has no Gemm or MatMul with constant float32 weights to factorise")
	}
	rank := int(p.get("rank").Int)
	energy := p.get("energy").Float
	taken := r.names()
	factored := 0
	for _, l := range layers {
		_, w := r.floatInit(l.w)
		k, n := int(l.dims[0]), int(l.dims[1])
		transB := l.node.OpType == "Gemm" && l.node.AttrInt("transB", 0) != 0
		if transB {
			k, n = n, k
		}
		// The math orientation: W is K×N with y = x·W.
		wm := mat.NewDense(k, n, nil)
		for i := range k {
			for j := range n {
				if transB {
					wm.Set(i, j, float64(w[j*k+i]))
				} else {
					wm.Set(i, j, float64(w[i*n+j]))
				}
			}
		}
		var svd mat.SVD
		if !svd.Factorize(wm, mat.SVDThin) {
			r.note(l.node.Label(), "the SVD did not converge: layer kept")
			continue
		}
		s := svd.Values(nil)
		rk := rank
		if rk == 0 {
			rk = rankForEnergy(s, energy)
		}
		rk = min(rk, len(s))
		if rk*(k+n) >= k*n {
			r.note(l.node.Label(), "rank %d of a %d×%d weight would not reduce its %d parameters: layer kept", rk, k, n, k*n)
			continue
		}
		var u, v mat.Dense
		svd.UTo(&u)
		svd.VTo(&v)
		// W1 (K×rk) = U·√S, W2 (rk×N) = √S·Vᵀ; both stored transposed for Gemm (transB=1).
		isGemm := l.node.OpType == "Gemm"
		w1 := make([]float32, k*rk)
		w2 := make([]float32, rk*n)
		for j := range rk {
			sq := math.Sqrt(s[j])
			for i := range k {
				if isGemm {
					w1[j*k+i] = float32(u.At(i, j) * sq) // [rk, K]
				} else {
					w1[i*rk+j] = float32(u.At(i, j) * sq) // [K, rk]
				}
			}
			for c := range n {
				if isGemm {
					w2[c*rk+j] = float32(v.At(c, j) * sq) // [N, rk]
				} else {
					w2[j*n+c] = float32(v.At(c, j) * sq) // [rk, N]
				}
			}
		}
		node := l.node
		hidden := r.unique(taken, node.Outputs[0]+"_lowrank")
		n1Name := r.unique(taken, l.w+"_factor1")
		n2Name := r.unique(taken, l.w+"_factor2")
		first := &onnx.Node{Name: r.unique(taken, node.Label()+"_lowrank"), OpType: node.OpType,
			Inputs: []string{node.Inputs[0], n1Name}, Outputs: []string{hidden}}
		r.removeInit(l.w)
		if node.OpType == "Gemm" {
			r.g.Initializers = append(r.g.Initializers,
				onnx.FromSlice(n1Name, []int64{int64(rk), int64(k)}, w1),
				onnx.FromSlice(n2Name, []int64{int64(n), int64(rk)}, w2))
			first.Attrs = []onnx.Attr{attrInt("transB", 1), attrInt("transA", node.AttrInt("transA", 0)),
				{Name: "alpha", Type: onnx.AttrFloat, Float: node.AttrFloat("alpha", 1)}}
			node.SetAttr(attrInt("transA", 0))
			node.SetAttr(attrInt("transB", 1))
			node.SetAttr(onnx.Attr{Name: "alpha", Type: onnx.AttrFloat, Float: 1})
		} else {
			r.g.Initializers = append(r.g.Initializers,
				onnx.FromSlice(n1Name, []int64{int64(k), int64(rk)}, w1),
				onnx.FromSlice(n2Name, []int64{int64(rk), int64(n)}, w2))
		}
		node.Inputs[0], node.Inputs[1] = hidden, n2Name
		r.insertBefore(node, first)
		r.note(node.Label(), "rank %d of %d: %d → %d parameters", rk, len(s), k*n, rk*(k+n))
		factored++
	}
	if factored == 0 {
		r.note("", "no layer was factorised: the model is unchanged")
	}
	return nil
}

// rankForEnergy is the smallest rank whose singular values hold the share energy of Σ s².
func rankForEnergy(s []float64, energy float64) int {
	var total float64
	for _, x := range s {
		total += x * x
	}
	var acc float64
	for i, x := range s {
		acc += x * x
		if acc >= energy*total*(1-1e-12) {
			return i + 1
		}
	}
	return len(s)
}
