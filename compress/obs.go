package compress

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// obsBlock is how many columns SparseGPT chooses a mask for at a time.
const obsBlock = 128

// obsMatrix is one weight matrix of a layer (a group of a grouped Conv) being pruned: rows×cols
// row-major, one row per output channel; the first prunable columns may be pruned, the rest (a
// bias column fed a constant 1) only absorb compensation.
type obsMatrix struct {
	w                    []float64
	rows, cols, prunable int
	u                    []float64 // upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), cols×cols row-major
}

func (o *obsMatrix) uAt(i, j int) float64 { return o.u[i*o.cols+j] }

// newOBS prepares a matrix for pruning: H⁻¹ from the inputs' cols×cols second moment h, with
// 1% of its mean diagonal added (dampening); weights of inputs that were always zero go at once.
//
// With cross, the cross moment C = Σ x_ref xᵀ between the layer's inputs in the unpruned model
// and in the model as pruned so far, the weights first become the least-squares fit
// W·C·H⁻¹ of the unpruned layer's outputs from the inputs it now gets: the layer then
// compensates the error of the layers pruned before it, not just its own.
func newOBS(w []float64, rows, cols, prunable int, h blas64.Symmetric, cross *blas64.General) (*obsMatrix, error) {
	return newOBSOpt(w, rows, cols, prunable, h, cross, true)
}

// newOBSOpt is newOBS, leaving the weights of always-zero inputs alone unless dropDead.
func newOBSOpt(w []float64, rows, cols, prunable int, h blas64.Symmetric, cross *blas64.General, dropDead bool) (*obsMatrix, error) {
	hd := mat.NewSymDense(cols, nil)
	var dead []int
	var mean float64
	for i := range cols {
		mean += h.Data[i*h.Stride+i]
	}
	mean /= float64(cols)
	if mean <= 0 {
		return nil, fmt.Errorf("the layer's inputs were all zero")
	}
	for i := range cols {
		for j := i; j < cols; j++ {
			hd.SetSym(i, j, h.Data[i*h.Stride+j])
		}
		if hd.At(i, i) == 0 { // an input that is always zero: its weights do nothing
			hd.SetSym(i, i, 1)
			dead = append(dead, i)
		}
		hd.SetSym(i, i, hd.At(i, i)+0.01*mean)
	}
	var ch mat.Cholesky
	if !ch.Factorize(hd) {
		return nil, fmt.Errorf("the input statistics are not positive definite")
	}
	var hinv mat.SymDense
	if err := ch.InverseTo(&hinv); err != nil {
		return nil, err
	}
	if cross != nil {
		c := mat.NewDense(cols, cols, nil)
		for i := range cols {
			for j := range cols {
				c.Set(i, j, cross.Data[i*cross.Stride+j])
			}
		}
		wm := mat.NewDense(rows, cols, w)
		var wc, fit mat.Dense
		wc.Mul(wm, c)
		fit.Mul(&wc, &hinv)
		for r := range rows {
			for j := range cols {
				w[r*cols+j] = fit.At(r, j)
			}
		}
	}
	for _, i := range dead {
		if i < prunable && dropDead {
			for r := range rows {
				w[r*cols+i] = 0
			}
		}
	}
	var ch2 mat.Cholesky
	if !ch2.Factorize(&hinv) {
		return nil, fmt.Errorf("the inverse input statistics are not positive definite")
	}
	var u mat.TriDense
	ch2.UTo(&u)
	o := &obsMatrix{w: w, rows: rows, cols: cols, prunable: prunable, u: make([]float64, cols*cols)}
	raw := u.RawTriangular()
	for i := range cols {
		copy(o.u[i*cols+i:(i+1)*cols], raw.Data[i*raw.Stride+i:i*raw.Stride+cols])
	}
	return o, nil
}

// obsCand is one weight that may go, with its OBS score: the growth of the layer's output error
// on the calibration inputs when it is removed.
type obsCand struct {
	score   float64
	m, r, c int // matrix, row, column
}

func (o *obsMatrix) cands(m, c0, c1 int, out []obsCand) []obsCand {
	for r := range o.rows {
		for c := c0; c < c1; c++ {
			d := o.uAt(c, c)
			x := o.w[r*o.cols+c]
			out = append(out, obsCand{x * x / (d * d), m, r, c})
		}
	}
	return out
}

// remove zeroes the masked weights of columns [c0, c1) in order, compensating each in the
// columns after it.
func (o *obsMatrix) remove(c0, c1 int, mask []bool) {
	for c := c0; c < c1; c++ {
		d := o.uAt(c, c)
		for r := range o.rows {
			if !mask[r*o.cols+c] {
				continue
			}
			row := o.w[r*o.cols : (r+1)*o.cols]
			e := row[c] / d
			row[c] = 0
			axpy(-e, o.u[c*o.cols+c+1:(c+1)*o.cols], row[c+1:])
		}
	}
}

// obsPrune prunes a layer's matrices to a sparsity with Optimal Brain Surgeon updates, the way
// SparseGPT does (Frantar & Alistarh, 2023): columns are visited in order; in each block of
// columns the weights with the smallest w²/[H⁻¹]ⱼⱼ² are zeroed, and the error each removal makes
// on the calibration inputs is compensated by updating the columns not yet visited, so the
// layer's output on those inputs changes as little as possible. Matrices of one layer (the
// groups of a depthwise Conv) share one mask choice per block, so channels that matter more
// keep more of their weights.
func obsPrune(ms []*obsMatrix, sparsity float64) {
	prunable := ms[0].prunable
	for b0 := 0; b0 < prunable; b0 += obsBlock {
		b1 := min(b0+obsBlock, prunable)
		var cands []obsCand
		for i, o := range ms {
			cands = o.cands(i, b0, b1, cands)
		}
		slices.SortFunc(cands, func(a, b obsCand) int {
			return cmp.Or(cmp.Compare(a.score, b.score), cmp.Compare(a.m, b.m), cmp.Compare(a.c, b.c), cmp.Compare(a.r, b.r))
		})
		masks := make([][]bool, len(ms))
		for i, o := range ms {
			masks[i] = make([]bool, o.rows*o.cols)
		}
		for _, c := range cands[:int(math.Round(sparsity*float64(len(cands))))] {
			masks[c.m][c.r*ms[c.m].cols+c.c] = true
		}
		for i, o := range ms {
			o.remove(b0, b1, masks[i])
		}
	}
}

// axpy adds a·x to y.
func axpy(a float64, x, y []float64) {
	for i, v := range x {
		y[i] += a * v
	}
}

// snap moves every weight of the prunable columns onto its row's grid, in column order, and
// compensates each move in the columns after it (GPTQ, Frantar et al. 2022, with a grid instead
// of uniform levels). Weights marked fixed are set to zero (kept pruned).
func (o *obsMatrix) snap(grid func(row int, v float64) float64, fixed []bool) {
	for c := range o.prunable {
		d := o.uAt(c, c)
		for r := range o.rows {
			row := o.w[r*o.cols : (r+1)*o.cols]
			q := 0.0
			if fixed == nil || !fixed[r*o.cols+c] {
				q = grid(r, row[c])
			}
			e := (row[c] - q) / d
			row[c] = q
			if e != 0 {
				axpy(-e, o.u[c*o.cols+c+1:(c+1)*o.cols], row[c+1:])
			}
		}
	}
}
