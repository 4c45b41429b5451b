// Package onnx reads, validates and writes ONNX models.
//
// A model is decoded from its protobuf form into plain Go values (Model, Graph, Node, Tensor)
// that the engine plans from and the compression catalogue edits; Encode writes them back. Parts
// of the file this package does not model (training info, local functions, fields of newer IR
// versions) are kept and written back unchanged.
package onnx

import (
	"fmt"
	"slices"

	"github.com/tinymlaas/tinyml/internal/onnx/onnxpb"
)

// Model is an ONNX model.
type Model struct {
	IRVersion       int64
	Opsets          []OpsetID
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	Doc             string
	Metadata        []KeyValue
	Graph           *Graph

	// rest holds what the file had beyond the fields above, written back as it came.
	rest *onnxpb.ModelProto
}

// OpsetID names an operator set the model imports. Domain "" (or "ai.onnx") is the default one.
type OpsetID struct {
	Domain  string
	Version int64
}

// KeyValue is one metadata property.
type KeyValue struct{ Key, Value string }

// Graph is a computation graph: nodes in the file's order, which ONNX requires to be topological
// (Validate checks it).
type Graph struct {
	Name         string
	Doc          string
	Nodes        []*Node
	Inputs       []ValueInfo
	Outputs      []ValueInfo
	ValueInfo    []ValueInfo
	Initializers []*Tensor

	rest *onnxpb.GraphProto
}

// Node is one operator application.
type Node struct {
	Name    string
	OpType  string
	Domain  string
	Inputs  []string // "" marks an omitted optional input
	Outputs []string
	Attrs   []Attr
	Doc     string
}

// AttrType is an attribute's kind; the values are AttributeProto.AttributeType's.
type AttrType int32

// Attribute kinds.
const (
	AttrUndefined AttrType = 0
	AttrFloat     AttrType = 1
	AttrInt       AttrType = 2
	AttrString    AttrType = 3
	AttrTensor    AttrType = 4
	AttrGraph     AttrType = 5
	AttrFloats    AttrType = 6
	AttrInts      AttrType = 7
	AttrStrings   AttrType = 8
	AttrTensors   AttrType = 9
	AttrGraphs    AttrType = 10
)

// Attr is a node attribute; the field that matches Type holds the value.
type Attr struct {
	Name    string
	Type    AttrType
	Float   float32
	Int     int64
	String  string
	Tensor  *Tensor
	Graph   *Graph
	Floats  []float32
	Ints    []int64
	Strings []string
	Tensors []*Tensor
	Graphs  []*Graph
	// RefAttrName is set inside function bodies; it is kept, not resolved.
	RefAttrName string
}

// ValueInfo describes a named value: its element type and shape as far as the file states them.
type ValueInfo struct {
	Name  string
	DType DType
	// Shape is nil when the file gives no shape (unknown rank).
	Shape []Dim
	Doc   string
	// NotTensor is set for sequence, map and optional types, which this package does not model;
	// their type is kept in encoded form to be written back.
	NotTensor bool
	otherType []byte
}

// Dim is one dimension of a declared shape: a fixed size (Value), a named symbol (Param, e.g.
// "batch"; Value is then meaningless), or unknown (Value < 0, Param "").
type Dim struct {
	Value int64
	Param string
}

// Known reports whether the dimension has a fixed size.
func (d Dim) Known() bool { return d.Value >= 0 && d.Param == "" }

func (d Dim) String() string {
	switch {
	case d.Param != "":
		return d.Param
	case d.Value < 0:
		return "?"
	}
	return fmt.Sprint(d.Value)
}

// OpsetVersion is the version the model imports for a domain ("" and "ai.onnx" are the same),
// or 0 when it does not import the domain.
func (m *Model) OpsetVersion(domain string) int64 {
	if domain == "ai.onnx" {
		domain = ""
	}
	for _, o := range m.Opsets {
		d := o.Domain
		if d == "ai.onnx" {
			d = ""
		}
		if d == domain {
			return o.Version
		}
	}
	return 0
}

// Clone returns a deep copy of the model, so an editor never changes its input.
func (m *Model) Clone() *Model {
	c := *m
	c.Opsets = slices.Clone(m.Opsets)
	c.Metadata = slices.Clone(m.Metadata)
	if m.Graph != nil {
		c.Graph = m.Graph.Clone()
	}
	return &c
}

// Clone returns a deep copy of the graph.
func (g *Graph) Clone() *Graph {
	c := *g
	c.Nodes = make([]*Node, len(g.Nodes))
	for i, n := range g.Nodes {
		c.Nodes[i] = n.Clone()
	}
	c.Inputs = cloneValueInfos(g.Inputs)
	c.Outputs = cloneValueInfos(g.Outputs)
	c.ValueInfo = cloneValueInfos(g.ValueInfo)
	c.Initializers = make([]*Tensor, len(g.Initializers))
	for i, t := range g.Initializers {
		c.Initializers[i] = t.Clone()
	}
	return &c
}

func cloneValueInfos(v []ValueInfo) []ValueInfo {
	out := slices.Clone(v)
	for i := range out {
		out[i].Shape = slices.Clone(v[i].Shape)
	}
	return out
}

// Clone returns a deep copy of the node.
func (n *Node) Clone() *Node {
	c := *n
	c.Inputs = slices.Clone(n.Inputs)
	c.Outputs = slices.Clone(n.Outputs)
	c.Attrs = make([]Attr, len(n.Attrs))
	for i, a := range n.Attrs {
		c.Attrs[i] = a.clone()
	}
	return &c
}

func (a Attr) clone() Attr {
	c := a
	if a.Tensor != nil {
		c.Tensor = a.Tensor.Clone()
	}
	if a.Graph != nil {
		c.Graph = a.Graph.Clone()
	}
	c.Floats = slices.Clone(a.Floats)
	c.Ints = slices.Clone(a.Ints)
	c.Strings = slices.Clone(a.Strings)
	if a.Tensors != nil {
		c.Tensors = make([]*Tensor, len(a.Tensors))
		for i, t := range a.Tensors {
			c.Tensors[i] = t.Clone()
		}
	}
	if a.Graphs != nil {
		c.Graphs = make([]*Graph, len(a.Graphs))
		for i, g := range a.Graphs {
			c.Graphs[i] = g.Clone()
		}
	}
	return c
}

// Attr returns the named attribute, if present.
func (n *Node) Attr(name string) (Attr, bool) {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a, true
		}
	}
	return Attr{}, false
}

// AttrInt returns an int attribute or def when absent.
func (n *Node) AttrInt(name string, def int64) int64 {
	if a, ok := n.Attr(name); ok && a.Type == AttrInt {
		return a.Int
	}
	return def
}

// AttrFloat returns a float attribute or def when absent.
func (n *Node) AttrFloat(name string, def float32) float32 {
	if a, ok := n.Attr(name); ok && a.Type == AttrFloat {
		return a.Float
	}
	return def
}

// AttrString returns a string attribute or def when absent.
func (n *Node) AttrString(name, def string) string {
	if a, ok := n.Attr(name); ok && a.Type == AttrString {
		return a.String
	}
	return def
}

// AttrInts returns an ints attribute, or def when absent.
func (n *Node) AttrInts(name string, def []int64) []int64 {
	if a, ok := n.Attr(name); ok && a.Type == AttrInts {
		return a.Ints
	}
	return def
}

// AttrFloats returns a floats attribute, or def when absent.
func (n *Node) AttrFloats(name string, def []float32) []float32 {
	if a, ok := n.Attr(name); ok && a.Type == AttrFloats {
		return a.Floats
	}
	return def
}

// SetAttr replaces or adds an attribute.
func (n *Node) SetAttr(a Attr) {
	for i := range n.Attrs {
		if n.Attrs[i].Name == a.Name {
			n.Attrs[i] = a
			return
		}
	}
	n.Attrs = append(n.Attrs, a)
}

// Label names the node for messages: its name, or its op type and first output.
func (n *Node) Label() string {
	if n.Name != "" {
		return n.Name
	}
	if len(n.Outputs) > 0 {
		return n.OpType + "→" + n.Outputs[0]
	}
	return n.OpType
}

// Initializer returns the named initializer, or nil.
func (g *Graph) Initializer(name string) *Tensor {
	for _, t := range g.Initializers {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// IsInitializer reports whether name is an initializer.
func (g *Graph) IsInitializer(name string) bool { return g.Initializer(name) != nil }

// RuntimeInputs are the graph inputs a caller must feed: inputs without an initializer of the
// same name (IR < 4 lists initializers among the inputs too).
func (g *Graph) RuntimeInputs() []ValueInfo {
	var out []ValueInfo
	for _, in := range g.Inputs {
		if !g.IsInitializer(in.Name) {
			out = append(out, in)
		}
	}
	return out
}
