package compress

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors; every error this package returns for bad input matches one of them
// (errors.Is), and carries the details in a typed error (errors.As).
var (
	// ErrSyntax: a chain spec that does not parse (*SyntaxError).
	ErrSyntax = errors.New("bad compression spec")
	// ErrUnknownTechnique: a name that is not in the catalogue (*UnknownTechniqueError).
	ErrUnknownTechnique = errors.New("unknown compression technique")
	// ErrBadParam: an unknown parameter, a value of the wrong type or out of range (*ParamError).
	ErrBadParam = errors.New("bad compression parameter")
	// ErrBadChain: techniques combined in an order that makes no sense (*ChainError).
	ErrBadChain = errors.New("bad compression chain")
	// ErrModel: a model the technique cannot handle (*ModelError).
	ErrModel = errors.New("model not supported by the compression technique")
	// ErrCalibration: a missing calibration dataset or one that does not fit the model
	// (*CalibrationError).
	ErrCalibration = errors.New("bad calibration data")
)

// SyntaxError is a spec that does not parse: where, and what was expected there.
type SyntaxError struct {
	Spec string
	Pos  int // byte offset into Spec
	Msg  string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("compression spec %q, at column %d: %s", e.Spec, e.Pos+1, e.Msg)
}

// Is makes errors.Is(err, ErrSyntax) true.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// UnknownTechniqueError names a technique the catalogue does not have.
type UnknownTechniqueError struct {
	Name  string
	Pos   int // byte offset in the spec, -1 when not parsed from one
	Known []string
}

func (e *UnknownTechniqueError) Error() string {
	msg := fmt.Sprintf("unknown compression technique %q", e.Name)
	if s := closest(e.Name, e.Known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + "; the catalogue has " + strings.Join(e.Known, ", ") + " (tinyml catalogue lists them)"
}

// Is makes errors.Is(err, ErrUnknownTechnique) true.
func (e *UnknownTechniqueError) Is(target error) bool { return target == ErrUnknownTechnique }

// ParamError is a parameter problem: unknown name, wrong type, out of range, or a combination
// the technique refuses. Allowed says what would be accepted.
type ParamError struct {
	Technique string
	Param     string
	Value     string // as written, "" when the value is not the problem
	Allowed   string
	Msg       string
	Pos       int // byte offset in the spec, -1 when not parsed from one
}

func (e *ParamError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: parameter %s", e.Technique, e.Param)
	if e.Value != "" {
		fmt.Fprintf(&b, "=%s", e.Value)
	}
	if e.Msg != "" {
		b.WriteString(": " + e.Msg)
	}
	if e.Allowed != "" {
		b.WriteString("; allowed: " + e.Allowed)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrBadParam) true.
func (e *ParamError) Is(target error) bool { return target == ErrBadParam }

// ChainError is a chain whose step cannot follow the steps before it.
type ChainError struct {
	Step      int    // 0-based index of the offending step
	Technique string // its name
	After     string // the earlier step it conflicts with, if one
	Msg       string
}

func (e *ChainError) Error() string {
	if e.After != "" {
		return fmt.Sprintf("compression chain: step %d (%s) cannot follow %s: %s", e.Step+1, e.Technique, e.After, e.Msg)
	}
	return fmt.Sprintf("compression chain: step %d (%s): %s", e.Step+1, e.Technique, e.Msg)
}

// Is makes errors.Is(err, ErrBadChain) true.
func (e *ChainError) Is(target error) bool { return target == ErrBadChain }

// ModelError is a model a technique cannot compress.
type ModelError struct {
	Technique string
	Node      string // the node concerned, if one
	Msg       string
}

func (e *ModelError) Error() string {
	if e.Node != "" {
		return fmt.Sprintf("%s: node %s: %s", e.Technique, e.Node, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Technique, e.Msg)
}

// Is makes errors.Is(err, ErrModel) true.
func (e *ModelError) Is(target error) bool { return target == ErrModel }

// CalibrationError is a calibration dataset that is missing or does not fit the model.
type CalibrationError struct {
	Technique string
	Param     string // the parameter concerned, if one
	Msg       string
	Err       error // the underlying cause, if one
}

func (e *CalibrationError) Error() string {
	msg := e.Technique + ": "
	if e.Param != "" {
		msg += "parameter " + e.Param + ": "
	}
	msg += e.Msg
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrCalibration) true.
func (e *CalibrationError) Is(target error) bool { return target == ErrCalibration }

// Unwrap gives the cause (a dataset error, say).
func (e *CalibrationError) Unwrap() error { return e.Err }

// closest returns the candidate nearest to s by edit distance, if it is near enough to be a typo.
func closest(s string, candidates []string) string {
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
