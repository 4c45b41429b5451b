package engine

import (
	"slices"
	"strings"
)

// Einsum by direct summation: every combination of the equation's letters is visited once, so the
// cost is the product of all dimension sizes. Right for the small contractions exporters emit
// (attention scores, bilinear forms); a large matrix product belongs in MatMul.

func init() {
	register("Einsum", 12, buildEinsum)
}

// parseEinsumTerm reads one operand's subscripts, with "..." expanded to letters that stand for
// the broadcast dimensions; it reports false when the term does not fit the rank.
func parseEinsumTerm(term string, rank int, ellipsis []byte) ([]byte, bool) {
	term = strings.TrimSpace(term)
	letters := strings.Replace(term, "...", "", 1)
	if strings.Contains(letters, ".") || strings.Contains(letters, " ") {
		return nil, false
	}
	if !strings.Contains(term, "...") {
		return []byte(letters), len(letters) == rank
	}
	n := rank - len(letters)
	if n < 0 || n > len(ellipsis) {
		return nil, false
	}
	i := strings.Index(term, "...")
	out := append([]byte(term[:i]), ellipsis[len(ellipsis)-n:]...)
	return append(out, term[i+3:]...), true
}

func buildEinsum(b *build) error {
	eq := strings.ReplaceAll(b.attrString("equation", ""), " ", "")
	var ins []*Tensor
	for i := range b.in {
		t, err := b.input(i)
		if err != nil {
			return err
		}
		if !isFloat(t.DType) && !isInt(t.DType) {
			return b.unsupported("Einsum of %s", t.DType)
		}
		if t.DType != b.in[0].DType {
			return b.errorf("operands are %s and %s; they must have the same type", b.in[0].DType, t.DType)
		}
		ins = append(ins, t)
	}
	if len(ins) == 0 {
		return b.errorf("Einsum needs at least one input")
	}
	lhs, rhs, explicit := strings.Cut(eq, "->")
	terms := strings.Split(lhs, ",")
	if len(terms) != len(ins) {
		return b.errorf("equation %q has %d operands; the node has %d inputs", eq, len(terms), len(ins))
	}
	// Letters for "...": upper-case letters the equation does not use.
	maxEll := 0
	for _, t := range ins {
		maxEll = max(maxEll, len(t.Shape))
	}
	var ellipsis []byte
	for c := byte('Z'); c >= 'A' && len(ellipsis) < maxEll; c-- {
		if !strings.ContainsRune(eq, rune(c)) {
			ellipsis = append([]byte{c}, ellipsis...)
		}
	}
	size := map[byte]int{}
	count := map[byte]int{}
	subs := make([][]byte, len(ins))
	ellRank := 0
	for i, term := range terms {
		s, ok := parseEinsumTerm(term, len(ins[i].Shape), ellipsis)
		if !ok {
			return b.errorf("term %q of equation %q does not fit input %d of shape %v", term, eq, i, ins[i].Shape)
		}
		if strings.Contains(term, "...") {
			ellRank = max(ellRank, len(ins[i].Shape)-(len(strings.TrimSpace(term))-3))
		}
		for j, c := range s {
			d := ins[i].Shape[j]
			if old, ok := size[c]; ok && old != d {
				switch {
				case old == 1 && isEllipsis(c, ellipsis):
					size[c] = d
				case d == 1 && isEllipsis(c, ellipsis):
				default:
					return b.errorf("subscript %q has sizes %d and %d in equation %q", c, old, d, eq)
				}
			} else if !ok {
				size[c] = d
			}
			count[c]++
		}
		subs[i] = s
	}
	var outSub []byte
	if explicit {
		rank := len(rhs)
		if strings.Contains(rhs, "...") {
			rank += ellRank - 3
		}
		s, ok := parseEinsumTerm(rhs, rank, ellipsis)
		if !ok {
			return b.errorf("the output %q of equation %q is malformed", rhs, eq)
		}
		outSub = s
	} else {
		outSub = append(outSub, ellipsis[len(ellipsis)-ellRank:]...)
		var single []byte
		for c, n := range count {
			if n == 1 && !isEllipsis(c, ellipsis) {
				single = append(single, c)
			}
		}
		slices.Sort(single)
		outSub = append(outSub, single...)
	}
	shape := []int{}
	for _, c := range outSub {
		d, ok := size[c]
		if !ok {
			return b.errorf("output subscript %q of equation %q appears in no input", c, eq)
		}
		shape = append(shape, d)
	}
	// Visit all letters: output letters first (so the output offset advances in order), then the
	// summed ones.
	letters := slices.Clone(outSub)
	for _, s := range subs {
		for _, c := range s {
			if !slices.Contains(letters, c) {
				letters = append(letters, c)
			}
		}
	}
	dims := make([]int, len(letters))
	for i, c := range letters {
		dims[i] = size[c]
	}
	// strides[k][i]: how far operand k moves when letter i advances (repeated letters add up,
	// which takes diagonals; broadcast dimensions of size 1 do not move).
	strides := make([][]int, len(ins))
	for k, s := range subs {
		st := stridesOf(ins[k].Shape)
		strides[k] = make([]int, len(letters))
		for j, c := range s {
			if ins[k].Shape[j] == 1 && dims[slices.Index(letters, c)] != 1 {
				continue
			}
			strides[k][slices.Index(letters, c)] += st[j]
		}
	}
	dt := ins[0].DType
	b.setOut(0, dt, shape)
	out := b.out[0]
	nOut := numel(shape)
	inner := numel(dims[len(outSub):])
	idx := make([]int, len(letters))
	offs := make([]int, len(ins))
	integer := isInt(dt)
	b.run = func(*exec) {
		clear(idx)
		clear(offs)
		for o := range nOut {
			var accF float64
			var accI int64
			for range inner {
				if integer {
					p := int64(1)
					for k, t := range ins {
						p *= loadI64(t, offs[k])
					}
					accI += p
				} else {
					p := 1.0
					for k, t := range ins {
						p *= loadF64(t, offs[k])
					}
					accF += p
				}
				for d := len(letters) - 1; d >= 0; d-- { // the next combination, last letter fastest
					idx[d]++
					for k := range offs {
						offs[k] += strides[k][d]
					}
					if idx[d] < dims[d] {
						break
					}
					for k := range offs {
						offs[k] -= idx[d] * strides[k][d]
					}
					idx[d] = 0
				}
			}
			if integer {
				storeI64(out, o, accI)
			} else {
				storeF64(out, o, accF)
			}
		}
	}
	return nil
}

func isEllipsis(c byte, ellipsis []byte) bool { return slices.Contains(ellipsis, c) }
