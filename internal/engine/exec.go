package engine

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// exec is what a step's run function gets: the pool for parallel loops, and a place to report
// a failure only the data can reveal (an index out of range).
type exec struct {
	pool *pool
	err  error
}

func (x *exec) fail(n *gnode, err error) {
	if x.err == nil {
		x.err = &ShapeError{Node: n.label(), Msg: err.Error()}
	}
}

// parallel runs body over [0, n) split into at most the plan's thread count of contiguous
// chunks; worker is the chunk's index (for per-worker scratch). body must be created at plan
// time so that calling this allocates nothing.
func (x *exec) parallel(n int, body func(worker, lo, hi int)) {
	if x.pool == nil || n < 2 {
		body(0, 0, n)
		return
	}
	x.pool.run(n, body)
}

// pool is a fixed set of goroutines owned by one plan; the calling goroutine is worker 0.
type pool struct {
	workers []chan task
	wg      sync.WaitGroup
}

type task struct {
	body           func(worker, lo, hi int)
	worker, lo, hi int
}

func newPool(threads int) *pool {
	p := &pool{}
	for i := 1; i < threads; i++ {
		ch := make(chan task)
		p.workers = append(p.workers, ch)
		go func() {
			for t := range ch {
				t.body(t.worker, t.lo, t.hi)
				p.wg.Done()
			}
		}()
	}
	return p
}

func (p *pool) run(n int, body func(worker, lo, hi int)) {
	parts := min(n, len(p.workers)+1)
	chunk := (n + parts - 1) / parts
	p.wg.Add(parts - 1)
	for i := 1; i < parts; i++ {
		lo, hi := i*chunk, min(n, (i+1)*chunk)
		if lo >= hi {
			p.wg.Done()
			continue
		}
		p.workers[i-1] <- task{body: body, worker: i, lo: lo, hi: hi}
	}
	body(0, 0, min(n, chunk))
	p.wg.Wait()
}

func (p *pool) close() {
	for _, ch := range p.workers {
		close(ch)
	}
}

// Plan is a model planned for fixed input shapes: every step's kernel, one arena for all
// activations and scratch, and the weights packed. Run allocates nothing. A Plan is not safe for
// concurrent use; make one per goroutine (Model.Plan).
type Plan struct {
	threads     int
	inputs      []*Tensor
	inputNames  []string
	outputs     []*Tensor
	outputNames []string
	steps       []*step
	arena       []byte
	macs        int64
	pool        *pool
	x           exec // kept here so that passing &p.x to steps does not allocate per Run
	profile     []NodeProfile
}

// NodeProfile is the time and output size of one step, the way a profiler lists layers.
type NodeProfile struct {
	Node     string   // the node's name (or op→output)
	Op       string   // operator type
	Fused    []string // nodes folded or fused into this step
	Calls    int
	Total    time.Duration
	OutBytes int64 // bytes the step writes per call
	MACs     int64 // multiply-accumulates per call
}

// InputNames and OutputNames list the graph's inputs and outputs in order.
func (p *Plan) InputNames() []string  { return p.inputNames }
func (p *Plan) OutputNames() []string { return p.outputNames }

// InputShape is the shape this plan was made for.
func (p *Plan) InputShape(i int) []int { return p.inputs[i].Shape }

// ArenaBytes is the size of the activation arena (activations and scratch, reused by lifetime).
func (p *Plan) ArenaBytes() int { return len(p.arena) }

// MACs is the number of multiply-accumulates of one Run.
func (p *Plan) MACs() int64 { return p.macs }

// Steps is the number of kernel calls per Run (after folding, fusion and views).
func (p *Plan) Steps() int { return len(p.steps) }

// EnableProfile makes Run time every step; Profile reads the totals.
func (p *Plan) EnableProfile() {
	if p.profile != nil {
		return
	}
	p.profile = make([]NodeProfile, len(p.steps))
	for i, s := range p.steps {
		var out int64
		for _, t := range s.outs {
			if t != nil {
				out += int64(len(t.Data))
			}
		}
		p.profile[i] = NodeProfile{Node: s.node.label(), Op: s.node.op, Fused: s.node.fused, OutBytes: out, MACs: s.macs}
	}
}

// Profile returns per-step totals since EnableProfile.
func (p *Plan) Profile() []NodeProfile { return append([]NodeProfile(nil), p.profile...) }

// Run computes the outputs for the given inputs, one per graph input in order, each with the
// plan's shape and the input's element type. The returned tensors belong to the plan and are
// overwritten by the next Run; Clone what you keep.
func (p *Plan) Run(ctx context.Context, inputs ...*Tensor) ([]*Tensor, error) {
	if len(inputs) != len(p.inputs) {
		return nil, &ShapeError{Msg: fmt.Sprintf("%d inputs given; the model takes %d (%v)", len(inputs), len(p.inputs), p.inputNames)}
	}
	for i, in := range inputs {
		want := p.inputs[i]
		if in.DType != want.DType || !sameShape(in.Shape, want.Shape) {
			return nil, &ShapeError{Msg: fmt.Sprintf("input %q is %s%v; this plan takes %s%v", p.inputNames[i], in.DType, in.Shape, want.DType, want.Shape)}
		}
		if len(in.Data) < len(want.Data) {
			return nil, &ShapeError{Msg: fmt.Sprintf("input %q holds %d bytes, want %d", p.inputNames[i], len(in.Data), len(want.Data))}
		}
		copy(want.Data, in.Data)
	}
	if p.threads > 1 && p.pool == nil {
		p.pool = newPool(p.threads)
	}
	p.x.pool, p.x.err = p.pool, nil
	x := &p.x
	done := ctx.Done()
	for i, s := range p.steps {
		if done != nil {
			select {
			case <-done:
				return nil, ctx.Err()
			default:
			}
		}
		if p.profile != nil {
			start := time.Now()
			s.run(x)
			p.profile[i].Total += time.Since(start)
			p.profile[i].Calls++
		} else {
			s.run(x)
		}
		if x.err != nil {
			return nil, x.err
		}
	}
	return p.outputs, nil
}

// Close stops the plan's worker goroutines.
func (p *Plan) Close() {
	if p.pool != nil {
		p.pool.close()
		p.pool = nil
	}
}
