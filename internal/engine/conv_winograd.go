package engine

import (
	"github.com/tinymlaas/tinyml/internal/kernels"
)

// buildConvWinograd plans a 3×3, stride-1 convolution that keeps the input size (padding 1 on
// every side) with kernels.Winograd (F(2×2, 3×3): 16 multiplications per 2×2 output tile and
// channel pair instead of 36), or reports false when the shape, the CPU or a non-constant
// weight rules that out. Very few channels leave the transforms too large a share: those go
// to buildConvShift.
func buildConvWinograd(b *build, cs convShape) bool {
	win := cs.win
	n, c, m := cs.n, cs.c, cs.m
	switch {
	case !kernels.WinogradAccelerated() || !cs.wt.konst || cs.bias != nil && !cs.bias.konst:
		return false
	case cs.group != 1 || c < 8 || m < 8:
		return false
	case win.kh != 3 || win.kw != 3 || win.sh != 1 || win.sw != 1 || win.dh != 1 || win.dw != 1:
		return false
	case win.pt != 1 || win.pl != 1 || win.pb != 1 || win.pr != 1 || win.oh != win.h || win.ow != win.w:
		return false
	}
	wg, ok := kernels.NewWinograd(c, win.h, win.w)
	if !ok {
		return false
	}
	// One image per task; with fewer images than threads, split the output channels too.
	mchunks := 1
	if n < b.threads {
		mchunks = min((b.threads+n-1)/n, max(1, m/8))
	}
	per := (m + mchunks - 1) / mchunks
	var us [][]float32 // transformed weights of each chunk of output channels
	for o0 := 0; o0 < m; o0 += per {
		mc := min(per, m-o0)
		u := make([]float32, wg.WeightsLen(mc))
		wg.TransformWeights(u, F32(cs.wt)[o0*c*9:], mc)
		us = append(us, u)
	}
	mchunks = len(us)
	var biasv []float32
	if cs.bias != nil {
		biasv = F32(cs.bias)
	}
	hw := win.h * win.w
	tasks := n * mchunks
	workers := min(b.threads, tasks)
	perWorker := wg.ScratchLen(per)
	sc := b.askScratch(perWorker * workers * 4)
	act := b.node.act
	x, out := cs.x, cs.out
	body := func(worker, lo, hi int) {
		scratch := sc.f32()[worker*perWorker:][:perWorker]
		xs, ys := F32(x), F32(out)
		for t := lo; t < hi; t++ {
			img, chunk := t/mchunks, t%mchunks
			o0 := chunk * per
			mc := min(per, m-o0)
			if chunk == 0 && img+2 < n {
				kernels.Prefetch(xs[(img+2)*c*hw:][:c*hw]) // as in buildConvShift
			}
			var bv []float32
			if biasv != nil {
				bv = biasv[o0:]
			}
			wg.Conv(ys[(img*m+o0)*hw:][:mc*hw], xs[img*c*hw:][:c*hw], us[chunk], mc, bv, act, scratch)
		}
	}
	b.run = func(e *exec) { e.parallel(tasks, body) }
	return true
}
