package pack

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// Canonical Huffman coding of codebook indices: the "huffman" encoding stores a tensor with at
// most 256 distinct values as the codebook, each entry's code length, and the elements' codes.
// Clustered weights are not uniform over their shared values (and pruned ones are mostly zero),
// so this is often smaller than fixed-width indices.

const maxCodeLen = 15

// huffLengths returns code lengths (1..maxCodeLen) for symbols of the given nonzero frequencies.
func huffLengths(freq []int) []uint8 {
	f := slices.Clone(freq)
	for {
		lengths := huffmanOnce(f)
		if slices.Max(lengths) <= maxCodeLen {
			return lengths
		}
		for i := range f { // flatten the distribution until the longest code fits
			f[i] = (f[i] + 1) / 2
		}
	}
}

func huffmanOnce(freq []int) []uint8 {
	n := len(freq)
	lengths := make([]uint8, n)
	if n == 1 {
		lengths[0] = 1
		return lengths
	}
	type node struct {
		w       int
		members []int
	}
	nodes := make([]node, n)
	for i, w := range freq {
		nodes[i] = node{w, []int{i}}
	}
	for len(nodes) > 1 {
		// Merge the two lightest (ties by first member, for determinism).
		slices.SortStableFunc(nodes, func(a, b node) int {
			if a.w != b.w {
				return a.w - b.w
			}
			return a.members[0] - b.members[0]
		})
		a, b := nodes[0], nodes[1]
		for _, m := range a.members {
			lengths[m]++
		}
		for _, m := range b.members {
			lengths[m]++
		}
		merged := node{a.w + b.w, append(slices.Clone(a.members), b.members...)}
		slices.Sort(merged.members)
		nodes = append([]node{merged}, nodes[2:]...)
	}
	return lengths
}

// canonicalCodes assigns codes to lengths the canonical way (by length, then symbol).
func canonicalCodes(lengths []uint8) []uint32 {
	var count [maxCodeLen + 2]int
	for _, l := range lengths {
		count[l]++
	}
	count[0] = 0
	var next [maxCodeLen + 2]uint32
	code := uint32(0)
	for l := 1; l <= maxCodeLen; l++ {
		code = (code + uint32(count[l-1])) << 1
		next[l] = code
	}
	codes := make([]uint32, len(lengths))
	for s, l := range lengths {
		if l > 0 {
			codes[s] = next[l]
			next[l]++
		}
	}
	return codes
}

// huffman encodes the indices idx (into a codebook of k entries, book) as: uvarint k, the
// codebook, k code lengths (4 bits each, low nibble first), then the codes MSB-first,
// zero-padded to a byte.
func huffman(book []byte, k int, idx []int) []byte {
	freq := make([]int, k)
	for _, j := range idx {
		freq[j]++
	}
	lengths := huffLengths(freq)
	codes := canonicalCodes(lengths)
	out := binary.AppendUvarint(nil, uint64(k))
	out = append(out, book...)
	for i := 0; i < k; i += 2 {
		b := lengths[i]
		if i+1 < k {
			b |= lengths[i+1] << 4
		}
		out = append(out, b)
	}
	var acc uint64
	var nbits uint
	for _, j := range idx {
		acc = acc<<lengths[j] | uint64(codes[j])
		nbits += uint(lengths[j])
		for nbits >= 8 {
			nbits -= 8
			out = append(out, byte(acc>>nbits))
		}
	}
	if nbits > 0 {
		out = append(out, byte(acc<<(8-nbits)))
	}
	return out
}

// unhuffman decodes n elements of size bytes from a huffman payload.
func unhuffman(data []byte, n, size int) ([]byte, error) {
	r := &reader{b: data}
	k := r.uvarint()
	if r.err != nil || k < 1 || k > 256 {
		return nil, fmt.Errorf("huffman payload with %d values", k)
	}
	book := r.bytes(k * uint64(size))
	packed := r.bytes((k + 1) / 2)
	stream := r.rest()
	if r.err != nil {
		return nil, fmt.Errorf("huffman payload truncated")
	}
	lengths := make([]uint8, k)
	for i := range lengths {
		lengths[i] = packed[i/2] >> (4 * (i % 2)) & 15
	}
	if k%2 == 1 && packed[len(packed)-1]>>4 != 0 {
		return nil, fmt.Errorf("bits after the last code length")
	}
	// Canonical decoding tables; the lengths must describe a prefix code.
	var count [maxCodeLen + 1]int
	for _, l := range lengths {
		if l < 1 || l > maxCodeLen {
			return nil, fmt.Errorf("code length %d", l)
		}
		count[l]++
	}
	kraft := 0
	for l := 1; l <= maxCodeLen; l++ {
		kraft += count[l] << (maxCodeLen - l)
	}
	if kraft > 1<<maxCodeLen {
		return nil, fmt.Errorf("code lengths that are not a prefix code")
	}
	syms := make([]int, 0, k)
	for l := 1; l <= maxCodeLen; l++ {
		for s, sl := range lengths {
			if int(sl) == l {
				syms = append(syms, s)
			}
		}
	}
	var first, offset [maxCodeLen + 2]int
	code, off := 0, 0
	for l := 1; l <= maxCodeLen; l++ {
		code = (code + count[l-1]) << 1
		if l == 1 {
			code = 0
		}
		first[l], offset[l] = code, off
		off += count[l]
	}
	out := make([]byte, n*size)
	pos := 0 // bit position in stream
	for i := range n {
		c, l := 0, 0
		for {
			if pos >= 8*len(stream) {
				return nil, fmt.Errorf("huffman stream ends after %d of %d elements", i, n)
			}
			c = c<<1 | int(stream[pos/8]>>(7-pos%8)&1)
			pos++
			l++
			if l > maxCodeLen {
				return nil, fmt.Errorf("invalid code in the huffman stream")
			}
			if d := c - first[l]; d >= 0 && d < count[l] {
				s := syms[offset[l]+d]
				copy(out[i*size:], book[s*size:(s+1)*size])
				break
			}
		}
	}
	if (pos+7)/8 != len(stream) {
		return nil, fmt.Errorf("%d bytes after the huffman stream", len(stream)-(pos+7)/8)
	}
	return out, nil
}
