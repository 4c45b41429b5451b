package onnx

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrInvalid marks a model that decodes but breaks ONNX's rules (undefined inputs, cycles,
// conflicting types). Errors from Validate are *ValidationError values that match it.
var ErrInvalid = errors.New("invalid ONNX model")

// ValidationError says what is wrong with a model and where.
type ValidationError struct {
	Node string // the node's label, "" for graph-level problems
	Msg  string
}

func (e *ValidationError) Error() string {
	if e.Node == "" {
		return "invalid ONNX model: " + e.Msg
	}
	return fmt.Sprintf("invalid ONNX model: node %s: %s", e.Node, e.Msg)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Validate checks the model's structure: every value defined once before it is used, no cycles,
// graph outputs produced, and declared element types that agree with the initializers. Nodes that
// are merely out of order are put in topological order (ONNX requires it; some writers do not
// comply).
func (m *Model) Validate() error {
	if m.Graph == nil {
		return &ValidationError{Msg: "no graph"}
	}
	return validateGraph(m.Graph, nil)
}

func validateGraph(g *Graph, outer map[string]bool) error {
	defined := map[string]bool{}
	for name := range outer {
		defined[name] = true
	}
	declared := map[string]DType{}
	for _, vs := range [][]ValueInfo{g.Inputs, g.Outputs, g.ValueInfo} {
		for _, v := range vs {
			if v.DType != Undefined && !v.NotTensor {
				if prev, ok := declared[v.Name]; ok && prev != v.DType {
					return &ValidationError{Msg: fmt.Sprintf("value %q is declared both %s and %s", v.Name, prev, v.DType)}
				}
				declared[v.Name] = v.DType
			}
		}
	}
	own := map[string]bool{} // defined in this graph: redefinition is an error
	define := func(name, node string) error {
		if own[name] {
			return &ValidationError{Node: node, Msg: fmt.Sprintf("value %q is defined more than once", name)}
		}
		own[name] = true
		defined[name] = true
		return nil
	}
	for _, in := range g.Inputs {
		if in.Name == "" {
			return &ValidationError{Msg: "a graph input has no name"}
		}
		if err := define(in.Name, ""); err != nil {
			return err
		}
	}
	for _, t := range g.Initializers {
		if t.Name == "" {
			return &ValidationError{Msg: "an initializer has no name"}
		}
		if dt, ok := declared[t.Name]; ok && dt != t.DType {
			return &ValidationError{Msg: fmt.Sprintf("initializer %q holds %s but is declared %s", t.Name, t.DType, dt)}
		}
		if own[t.Name] && !slices.ContainsFunc(g.Inputs, func(v ValueInfo) bool { return v.Name == t.Name }) {
			return &ValidationError{Msg: fmt.Sprintf("initializer %q is defined more than once", t.Name)}
		}
		own[t.Name], defined[t.Name] = true, true
	}
	order, err := topoOrder(g, defined)
	if err != nil {
		return err
	}
	g.Nodes = order
	for _, n := range g.Nodes {
		if n.OpType == "" {
			return &ValidationError{Node: n.Label(), Msg: "node has no op type"}
		}
		for _, in := range n.Inputs {
			if in != "" && !defined[in] {
				return &ValidationError{Node: n.Label(), Msg: fmt.Sprintf("input %q is not defined by any graph input, initializer or earlier node", in)}
			}
		}
		for _, a := range n.Attrs {
			subs := a.Graphs
			if a.Graph != nil {
				subs = append(subs, a.Graph)
			}
			for _, sub := range subs {
				if err := validateGraph(sub, defined); err != nil {
					return fmt.Errorf("node %s, subgraph %q: %w", n.Label(), a.Name, err)
				}
			}
		}
		for _, out := range n.Outputs {
			if out == "" {
				continue
			}
			if err := define(out, n.Label()); err != nil {
				return err
			}
		}
	}
	for _, out := range g.Outputs {
		if !defined[out.Name] {
			return &ValidationError{Msg: fmt.Sprintf("graph output %q is not produced by any node", out.Name)}
		}
	}
	return nil
}

// topoOrder returns the nodes in an order where each runs after the producers of its inputs,
// keeping the file's order where it is already valid. Inputs that nothing produces are left for
// the caller to report; a cycle is reported here, naming the nodes on it.
func topoOrder(g *Graph, available map[string]bool) ([]*Node, error) {
	producer := map[string]int{}
	for i, n := range g.Nodes {
		for _, out := range n.Outputs {
			if out != "" {
				if _, dup := producer[out]; !dup {
					producer[out] = i
				}
			}
		}
	}
	inOrder := true
	seen := map[string]bool{}
	for k := range available {
		seen[k] = true
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if _, produced := producer[in]; produced && !seen[in] {
				inOrder = false
			}
		}
		for _, out := range n.Outputs {
			seen[out] = true
		}
	}
	if inOrder {
		return g.Nodes, nil
	}
	// Kahn's algorithm over node indices, smallest index first to keep the file's order.
	deps := make([][]int, len(g.Nodes))
	indeg := make([]int, len(g.Nodes))
	for i, n := range g.Nodes {
		for _, in := range nodeInputsWithSubgraphs(n) {
			if p, ok := producer[in]; ok && p != i && !available[in] {
				deps[p] = append(deps[p], i)
				indeg[i]++
			} else if ok && p == i {
				return nil, &ValidationError{Node: n.Label(), Msg: fmt.Sprintf("node consumes its own output %q (a cycle)", in)}
			}
		}
	}
	var ready, order []int
	for i := range g.Nodes {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		slices.Sort(ready)
		i := ready[0]
		ready = ready[1:]
		order = append(order, i)
		for _, j := range deps[i] {
			if indeg[j]--; indeg[j] == 0 {
				ready = append(ready, j)
			}
		}
	}
	if len(order) != len(g.Nodes) {
		var stuck []string
		for i, n := range g.Nodes {
			if indeg[i] > 0 {
				stuck = append(stuck, n.Label())
			}
		}
		return nil, &ValidationError{Msg: "the graph has a cycle through nodes " + strings.Join(stuck, ", ")}
	}
	out := make([]*Node, len(order))
	for k, i := range order {
		out[k] = g.Nodes[i]
	}
	return out, nil
}

// nodeInputsWithSubgraphs lists a node's inputs plus the outer values its subgraphs read, which
// are dependencies too.
func nodeInputsWithSubgraphs(n *Node) []string {
	ins := slices.Clone(n.Inputs)
	for _, a := range n.Attrs {
		subs := a.Graphs
		if a.Graph != nil {
			subs = append(subs, a.Graph)
		}
		for _, sub := range subs {
			for _, sn := range sub.Nodes {
				ins = append(ins, nodeInputsWithSubgraphs(sn)...)
			}
		}
	}
	return ins
}
