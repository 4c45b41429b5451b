package dataset

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Array is a numeric NumPy array: its shape and its elements, floats kept as float32 and integers
// (and booleans) as int64.
type Array struct {
	Shape []int
	Descr string // the NumPy dtype, e.g. "<f4"
	F32   []float32
	I64   []int64
}

// Len is the number of elements.
func (a *Array) Len() int {
	if a.F32 != nil {
		return len(a.F32)
	}
	return len(a.I64)
}

// Floats returns the elements as float32 (converting integers).
func (a *Array) Floats() []float32 {
	if a.F32 != nil {
		return a.F32
	}
	out := make([]float32, len(a.I64))
	for i, v := range a.I64 {
		out[i] = float32(v)
	}
	return out
}

// ErrFormat marks a file that is not in the format its name says.
var ErrFormat = errors.New("bad dataset file")

// maxElements bounds what a header may announce before any data is read (memory safety against
// hostile headers); 2^31 float32s is 8 GiB, far beyond a test set.
const maxElements = 1<<31 - 1

// ReadNPY parses a .npy file (format versions 1-3, C or Fortran order, little or big endian,
// bool/int/uint/float of any width). A header announcing more than 2^31 elements is refused, and
// the data is read in growing chunks, so a short file fails before a large allocation.
func ReadNPY(r io.Reader) (*Array, error) {
	return readNPY(r, -1)
}

// readNPY is ReadNPY for a stream of known size (limit bytes; -1 when unknown).
func readNPY(r io.Reader, limit int64) (*Array, error) {
	br := bufio.NewReader(r)
	var magic [8]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, fmt.Errorf("%w: npy: %v", ErrFormat, err)
	}
	if string(magic[:6]) != "\x93NUMPY" {
		return nil, fmt.Errorf("%w: npy: missing the \\x93NUMPY magic (is this a .npy file?)", ErrFormat)
	}
	var hlen int
	pre := int64(len(magic)) + 4 // magic, then the header length: 2 bytes in version 1, else 4
	switch magic[6] {
	case 1:
		pre -= 2
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, fmt.Errorf("%w: npy header: %v", ErrFormat, err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, fmt.Errorf("%w: npy header: %v", ErrFormat, err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, fmt.Errorf("%w: npy format version %d.%d is not supported (1 to 3 are)", ErrFormat, magic[6], magic[7])
	}
	if hlen > 1<<20 {
		return nil, fmt.Errorf("%w: npy header of %d bytes", ErrFormat, hlen)
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(br, header); err != nil {
		return nil, fmt.Errorf("%w: npy header: %v", ErrFormat, err)
	}
	descr, fortran, shape, err := parseHeader(string(header))
	if err != nil {
		return nil, fmt.Errorf("%w: npy header %q: %v", ErrFormat, strings.TrimSpace(string(header)), err)
	}
	n := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > maxElements/d) {
			return nil, fmt.Errorf("%w: npy shape %v is too large", ErrFormat, shape)
		}
		n *= d
	}
	kind, size, order, err := parseDescr(descr)
	if err != nil {
		return nil, fmt.Errorf("%w: npy: %v", ErrFormat, err)
	}
	if header := pre + int64(hlen); limit >= 0 && int64(n)*int64(size) > limit-header {
		return nil, fmt.Errorf("%w: npy shape %v of %s needs %d bytes but the file holds %d", ErrFormat, shape, descr, int64(n)*int64(size), max(limit-header, 0))
	}
	a := &Array{Shape: shape, Descr: descr}
	// Read in chunks so a truncated file fails before a huge allocation completes.
	data, err := readN(br, n*size)
	if err != nil {
		return nil, fmt.Errorf("%w: npy data (%d elements of %s): %v", ErrFormat, n, descr, err)
	}
	if kind == 'f' {
		a.F32 = make([]float32, n)
	} else {
		a.I64 = make([]int64, n)
	}
	for i := range n {
		b := data[i*size : (i+1)*size]
		switch kind {
		case 'f':
			switch size {
			case 2:
				a.F32[i] = halfToFloat(order.Uint16(b))
			case 4:
				a.F32[i] = math.Float32frombits(order.Uint32(b))
			case 8:
				a.F32[i] = float32(math.Float64frombits(order.Uint64(b)))
			}
		case 'i':
			switch size {
			case 1:
				a.I64[i] = int64(int8(b[0]))
			case 2:
				a.I64[i] = int64(int16(order.Uint16(b)))
			case 4:
				a.I64[i] = int64(int32(order.Uint32(b)))
			case 8:
				a.I64[i] = int64(order.Uint64(b))
			}
		case 'u', 'b':
			switch size {
			case 1:
				a.I64[i] = int64(b[0])
			case 2:
				a.I64[i] = int64(order.Uint16(b))
			case 4:
				a.I64[i] = int64(order.Uint32(b))
			case 8:
				a.I64[i] = int64(order.Uint64(b))
			}
		}
	}
	if fortran && len(shape) > 1 {
		a.F32, a.I64 = fortranToC(a.F32, shape), fortranToC(a.I64, shape)
	}
	return a, nil
}

func readN(r io.Reader, n int) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fortranToC reorders column-major elements into row-major order.
func fortranToC[T any](v []T, shape []int) []T {
	if v == nil {
		return nil
	}
	out := make([]T, len(v))
	r := len(shape)
	idx := make([]int, r)
	for f := range v { // f walks column-major order: first index fastest
		c := 0
		for d := range r {
			c = c*shape[d] + idx[d]
		}
		out[c] = v[f]
		for d := 0; d < r; d++ {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}

// parseHeader reads the Python dict literal of a .npy header:
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
func parseHeader(h string) (descr string, fortran bool, shape []int, err error) {
	h = strings.TrimSpace(h)
	if !strings.HasPrefix(h, "{") || !strings.HasSuffix(h, "}") {
		return "", false, nil, errors.New("not a dict")
	}
	body := h[1 : len(h)-1]
	seen := map[string]bool{}
	for len(strings.TrimSpace(body)) > 0 {
		body = strings.TrimSpace(body)
		key, rest, err := pyString(body)
		if err != nil {
			return "", false, nil, err
		}
		rest = strings.TrimSpace(rest)
		if !strings.HasPrefix(rest, ":") {
			return "", false, nil, fmt.Errorf("no ':' after key %q", key)
		}
		rest = strings.TrimSpace(rest[1:])
		switch key {
		case "descr":
			descr, rest, err = pyString(rest)
		case "fortran_order":
			switch {
			case strings.HasPrefix(rest, "True"):
				fortran, rest = true, rest[4:]
			case strings.HasPrefix(rest, "False"):
				fortran, rest = false, rest[5:]
			default:
				err = errors.New("fortran_order is not True or False")
			}
		case "shape":
			shape, rest, err = pyTuple(rest)
		default:
			err = fmt.Errorf("unknown key %q", key)
		}
		if err != nil {
			return "", false, nil, err
		}
		seen[key] = true
		rest = strings.TrimSpace(rest)
		rest = strings.TrimPrefix(rest, ",")
		body = rest
	}
	if !seen["descr"] || !seen["shape"] {
		return "", false, nil, errors.New("descr or shape missing")
	}
	return descr, fortran, shape, nil
}

func pyString(s string) (string, string, error) {
	if len(s) < 2 || (s[0] != '\'' && s[0] != '"') {
		return "", "", errors.New("expected a quoted string")
	}
	end := strings.IndexByte(s[1:], s[0])
	if end < 0 {
		return "", "", errors.New("unterminated string")
	}
	return s[1 : 1+end], s[end+2:], nil
}

func pyTuple(s string) ([]int, string, error) {
	if !strings.HasPrefix(s, "(") {
		return nil, "", errors.New("shape is not a tuple")
	}
	end := strings.IndexByte(s, ')')
	if end < 0 {
		return nil, "", errors.New("unterminated shape tuple")
	}
	shape := []int{}
	for _, part := range strings.Split(s[1:end], ",") {
		part = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(part), "L"))
		if part == "" {
			continue
		}
		v, err := strconv.Atoi(part)
		if err != nil || v < 0 {
			return nil, "", fmt.Errorf("bad dimension %q", part)
		}
		shape = append(shape, v)
	}
	return shape, s[end+1:], nil
}

func parseDescr(d string) (kind byte, size int, order binary.ByteOrder, err error) {
	if len(d) < 3 {
		return 0, 0, nil, fmt.Errorf("dtype %q is not supported", d)
	}
	switch d[0] {
	case '<', '|', '=':
		order = binary.LittleEndian
	case '>':
		order = binary.BigEndian
	default:
		return 0, 0, nil, fmt.Errorf("dtype %q is not supported", d)
	}
	kind = d[1]
	size, err = strconv.Atoi(d[2:])
	ok := err == nil && ((kind == 'f' && (size == 2 || size == 4 || size == 8)) ||
		((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8)) ||
		(kind == 'b' && size == 1))
	if !ok {
		return 0, 0, nil, fmt.Errorf("dtype %q is not supported (bool, int, uint and float are)", d)
	}
	return kind, size, order, nil
}

func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0:
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// WriteNPY writes a float32 array in .npy format version 1.
func WriteNPY(w io.Writer, shape []int, data []float32) error {
	buf := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(buf[i*4:], math.Float32bits(v))
	}
	return writeNPY(w, "<f4", shape, buf)
}

// writeInt64NPY writes an int64 array in .npy format version 1.
func writeInt64NPY(w io.Writer, shape []int, data []int64) error {
	buf := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(buf[i*8:], uint64(v))
	}
	return writeNPY(w, "<i8", shape, buf)
}

func writeNPY(w io.Writer, descr string, shape []int, raw []byte) error {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := strings.Join(dims, ", ")
	if len(shape) == 1 {
		tuple += ","
	}
	header := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, tuple)
	pad := 64 - (10+len(header)+1)%64
	header += strings.Repeat(" ", pad%64) + "\n"
	var pre [10]byte
	copy(pre[:], "\x93NUMPY\x01\x00")
	binary.LittleEndian.PutUint16(pre[8:], uint16(len(header)))
	for _, b := range [][]byte{pre[:], []byte(header), raw} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
