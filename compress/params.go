package compress

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ParamType is the kind of a technique parameter.
type ParamType int

// Parameter kinds.
const (
	Int ParamType = iota + 1
	Float
	Bool
	Enum
)

func (t ParamType) String() string {
	switch t {
	case Int:
		return "int"
	case Float:
		return "float"
	case Bool:
		return "bool"
	case Enum:
		return "enum"
	}
	return fmt.Sprintf("ParamType(%d)", int(t))
}

// MarshalJSON writes the kind's name.
func (t ParamType) MarshalJSON() ([]byte, error) { return json.Marshal(t.String()) }

// Param describes one parameter of a technique: its kind, default and allowed values.
type Param struct {
	Name    string    `json:"name"`
	Type    ParamType `json:"type"`
	Default Value     `json:"default"`
	// Min and Max bound Int and Float values (inclusive unless MinOpen/MaxOpen).
	Min     float64  `json:"min,omitempty"`
	Max     float64  `json:"max,omitempty"`
	MinOpen bool     `json:"min_open,omitempty"`
	MaxOpen bool     `json:"max_open,omitempty"`
	Choices []string `json:"choices,omitempty"` // Enum values
	Doc     string   `json:"doc"`
}

// Range describes the allowed values in words: "0 ≤ x ≤ 0.99", "one of minmax, percentile".
func (p Param) Range() string {
	switch p.Type {
	case Int:
		return fmt.Sprintf("an integer from %s to %s", fmtNum(p.Min), fmtNum(p.Max))
	case Float:
		lo, hi := "[", "]"
		if p.MinOpen {
			lo = "("
		}
		if p.MaxOpen {
			hi = ")"
		}
		return fmt.Sprintf("a number in %s%s, %s%s", lo, fmtNum(p.Min), fmtNum(p.Max), hi)
	case Bool:
		return "true or false"
	case Enum:
		return "one of " + strings.Join(p.Choices, ", ")
	}
	return ""
}

func fmtNum(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Value is a parameter value of one of the four kinds.
type Value struct {
	Type  ParamType
	Int   int64
	Float float64
	Bool  bool
	Enum  string
}

// IntValue, FloatValue, BoolValue and EnumValue make values.
func IntValue(v int64) Value     { return Value{Type: Int, Int: v} }
func FloatValue(v float64) Value { return Value{Type: Float, Float: v} }
func BoolValue(v bool) Value     { return Value{Type: Bool, Bool: v} }
func EnumValue(v string) Value   { return Value{Type: Enum, Enum: v} }

// String is the value's canonical spelling in a spec.
func (v Value) String() string {
	switch v.Type {
	case Int:
		return strconv.FormatInt(v.Int, 10)
	case Float:
		return strconv.FormatFloat(v.Float, 'g', -1, 64)
	case Bool:
		return strconv.FormatBool(v.Bool)
	case Enum:
		return v.Enum
	}
	return ""
}

// MarshalJSON writes the value as a JSON number, boolean or string.
func (v Value) MarshalJSON() ([]byte, error) {
	switch v.Type {
	case Int:
		return json.Marshal(v.Int)
	case Float:
		return json.Marshal(v.Float)
	case Bool:
		return json.Marshal(v.Bool)
	case Enum:
		return json.Marshal(v.Enum)
	}
	return []byte("null"), nil
}

// parseValue reads text as a value of p's kind and checks its range.
func (p Param) parseValue(technique, text string) (Value, error) {
	bad := func(msg string) error {
		return &ParamError{Technique: technique, Param: p.Name, Value: text, Msg: msg, Allowed: p.Range(), Pos: -1}
	}
	var v Value
	switch p.Type {
	case Int:
		i, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return v, bad("not an integer")
		}
		v = IntValue(i)
	case Float:
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return v, bad("not a finite number")
		}
		v = FloatValue(f)
	case Bool:
		b, err := strconv.ParseBool(text)
		if err != nil || (text != "true" && text != "false") {
			return v, bad("not true or false")
		}
		v = BoolValue(b)
	case Enum:
		v = EnumValue(text)
	}
	if err := p.check(technique, v); err != nil {
		return Value{}, err
	}
	return v, nil
}

// check validates a value against the parameter's kind and range.
func (p Param) check(technique string, v Value) error {
	bad := func(msg string) error {
		return &ParamError{Technique: technique, Param: p.Name, Value: v.String(), Msg: msg, Allowed: p.Range(), Pos: -1}
	}
	if v.Type != p.Type {
		return bad(fmt.Sprintf("a %s value for a %s parameter", v.Type, p.Type))
	}
	switch p.Type {
	case Int:
		if float64(v.Int) < p.Min || float64(v.Int) > p.Max {
			return bad("out of range")
		}
	case Float:
		f := v.Float
		if math.IsNaN(f) || f < p.Min || f > p.Max || (p.MinOpen && f == p.Min) || (p.MaxOpen && f == p.Max) {
			return bad("out of range")
		}
	case Enum:
		if !slices.Contains(p.Choices, v.Enum) {
			return bad("not a choice")
		}
	}
	return nil
}

// Setting is one parameter given explicitly in a step.
type Setting struct {
	Name  string
	Value Value
}
