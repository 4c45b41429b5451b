package engine

import (
	"github.com/tinymlaas/tinyml/internal/kernels"
)

// Convolutions as implicit GEMMs (kernels.SgemmShift): the weights are the left-hand operand,
// the input planes, shifted per kernel tap and masked at the borders, the right-hand one, so
// no im2col matrix is written and the output comes out in NCHW. Small planes batch several
// images into one GEMM (their positions side by side) so the vector lanes stay full.

// convShiftImages is the number of images to put side by side in one GEMM of k rows of n
// columns per image: more than one only when the vector lanes of one image's columns are badly
// used (7×7 outputs fill 49 of 64) and the GEMM is deep enough to pay for copying the input in
// and the output out.
func convShiftImages(batch, n, k int) int {
	lanes := func(cols int) float64 { return float64(cols) / float64((cols+15)/16*16) }
	if batch == 1 || k < 128 || lanes(n) >= 0.85 {
		return 1
	}
	best, bestUse := 1, lanes(n)
	for g := 2; g <= batch && g*n <= 1024; g++ {
		if u := lanes(g * n); u > bestUse+0.02 {
			best, bestUse = g, u
		}
	}
	return best
}

// convShape is what buildConv has worked out about a 2-D convolution.
type convShape struct {
	x, wt, bias, out *Tensor
	win              window
	n, c, m, group   int
}

// buildConvShift plans the convolution as shifted GEMMs, or reports false (nothing planned) when
// the geometry, the CPU or a non-constant weight rules that out.
func buildConvShift(b *build, cs convShape) bool {
	if !kernels.ShiftAccelerated() || !cs.wt.konst || cs.bias != nil && !cs.bias.konst {
		return false
	}
	win := cs.win
	n, c, m, group := cs.n, cs.c, cs.m, cs.group
	cg, mg := c/group, m/group
	geom := kernels.ConvGeom{C: cg, H: win.h, W: win.w, KH: win.kh, KW: win.kw, PadT: win.pt, PadL: win.pl,
		StrideH: win.sh, StrideW: win.sw, DilH: win.dh, DilW: win.dw, OH: win.oh, OW: win.ow}
	hw, ohw := win.h*win.w, win.oh*win.ow
	images := convShiftImages(n, ohw, cg*win.kh*win.kw)
	full, ok := kernels.NewShiftConv(geom, images)
	if !ok {
		return false
	}
	last := full // the plan of the last, partial batch of images
	if rem := n % images; rem != 0 {
		if last, ok = kernels.NewShiftConv(geom, rem); !ok {
			return false
		}
	}
	k := full.K()
	packed := make([]float32, m*k)
	for g := range group {
		full.PackWeights(packed[g*mg*k:], F32(cs.wt)[g*mg*k:], mg)
	}
	var biasv []float32
	if cs.bias != nil {
		biasv = F32(cs.bias)
	}

	batches := (n + images - 1) / images
	jobs := batches * group
	// One thread per batch; with fewer batches than threads, split the output channels too.
	mchunks := 1
	if jobs < b.threads {
		mchunks = min((b.threads+jobs-1)/jobs, max(1, mg/8))
	}
	rowsPer := (mg + mchunks - 1) / mchunks
	tasks := jobs * mchunks
	workers := min(b.threads, tasks)
	gatherLen := full.GatherLen()
	outLen := 0
	if images > 1 {
		outLen = mg * full.N()
	}
	perWorker := gatherLen + outLen
	sc := b.askScratch(max(perWorker*workers, 1) * 4)
	act := b.node.act
	x, out := cs.x, cs.out
	body := func(worker, lo, hi int) {
		buf := sc.f32()[worker*perWorker:][:perWorker]
		gbuf, obuf := buf[:gatherLen], buf[gatherLen:]
		xs, ys := F32(x), F32(out)
		for t := lo; t < hi; t++ {
			job, mc := t/mchunks, t%mchunks
			batch, g := job/group, job%group
			img0 := batch * images
			plan := full
			if img0+images > n {
				plan = last
			}
			o0, o1 := mc*rowsPer, min(mg, (mc+1)*rowsPer)
			if o0 >= o1 {
				continue
			}
			rb := g*mg + o0
			src := xs[(img0*c+g*cg)*hw:]
			if mc == 0 && g == 0 && img0+2*images < n {
				// The input two batches ahead, while this one computes: at full batch the
				// activations live in memory, and the hardware prefetchers do not follow the
				// many planes a convolution reads at once.
				next := xs[(img0+2*images)*c*hw:]
				kernels.Prefetch(next[:min(len(next), images*c*hw)])
			}
			pb := plan.Gather(gbuf, src, c*hw)
			ep := kernels.Epilogue{Act: act}
			if biasv != nil {
				ep.RowBias = biasv[rb:]
			}
			a := packed[rb*k:]
			if images == 1 {
				kernels.SgemmShift(o1-o0, a, k, pb, ys[(img0*m+rb)*ohw:], ohw, ep)
				continue
			}
			cols := plan.N()
			kernels.SgemmShift(o1-o0, a, k, pb, obuf, cols, ep)
			for i := range cols / ohw {
				for o := o0; o < o1; o++ {
					copy(ys[((img0+i)*m+g*mg+o)*ohw:][:ohw], obuf[(o-o0)*cols+i*ohw:])
				}
			}
		}
	}
	b.run = func(e *exec) { e.parallel(tasks, body) }
	return true
}

// buildDepthwiseShift plans a depthwise convolution (group = C = M) with kernels.DepthwiseShift,
// all channels of an image per call, or reports false.
func buildDepthwiseShift(b *build, cs convShape) bool {
	win := cs.win
	n, c := cs.n, cs.c
	if cs.group != c || cs.m != c || !kernels.DepthwiseShiftAccelerated(win.kh*win.kw) {
		return false
	}
	// With fewer images than threads, split the channels.
	chunks := 1
	if n < b.threads {
		chunks = min((b.threads+n-1)/n, c)
	}
	per := (c + chunks - 1) / chunks
	geom := kernels.ConvGeom{C: per, H: win.h, W: win.w, KH: win.kh, KW: win.kw, PadT: win.pt, PadL: win.pl,
		StrideH: win.sh, StrideW: win.sw, DilH: win.dh, DilW: win.dw, OH: win.oh, OW: win.ow}
	full, ok := kernels.NewShiftConv(geom, 1)
	if !ok {
		return false
	}
	last := full
	if rem := c - (chunks-1)*per; rem != per {
		geom.C = rem
		if last, ok = kernels.NewShiftConv(geom, 1); !ok {
			return false
		}
	}
	hw, ohw, taps := win.h*win.w, win.oh*win.ow, win.kh*win.kw
	tasks := n * chunks
	workers := min(b.threads, tasks)
	perWorker := full.GatherLen()
	sc := b.askScratch(max(perWorker*workers, 1) * 4)
	act := b.node.act
	x, wt, bias, out := cs.x, cs.wt, cs.bias, cs.out
	body := func(worker, lo, hi int) {
		gbuf := sc.f32()[worker*perWorker:][:perWorker]
		xs, ws, ys := F32(x), F32(wt), F32(out)
		var bs []float32
		if bias != nil {
			bs = F32(bias)
		}
		for t := lo; t < hi; t++ {
			img, chunk := t/chunks, t%chunks
			ch0 := chunk * per
			plan := full
			if chunk == chunks-1 {
				plan = last
			}
			if chunk == 0 && img+2 < n {
				kernels.Prefetch(xs[(img+2)*c*hw:][:c*hw]) // as in buildConvShift
			}
			pb := plan.Gather(gbuf, xs[(img*c+ch0)*hw:], c*hw)
			var bv []float32
			if bs != nil {
				bv = bs[ch0:]
			}
			kernels.DepthwiseShift(ys[(img*c+ch0)*ohw:], ohw, pb, ws[ch0*taps:], bv, act)
		}
	}
	b.run = func(e *exec) { e.parallel(tasks, body) }
	return true
}
