package compress

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Step is one technique of a chain with the parameters given explicitly; the others take their
// defaults. Settings are kept in the technique's parameter order, so equal steps compare equal.
type Step struct {
	Technique string
	Settings  []Setting
}

// Chain is techniques applied left to right, written `prune(sparsity=0.5) | int8-static`.
type Chain []Step

// NewStep makes a validated step: settings in any order, each checked against the technique.
func NewStep(technique string, settings ...Setting) (Step, error) {
	t := lookup(technique)
	if t == nil {
		return Step{}, &UnknownTechniqueError{Name: technique, Pos: -1, Known: names()}
	}
	s := Step{Technique: technique}
	for _, set := range settings {
		p, ok := t.Param(set.Name)
		if !ok {
			return Step{}, unknownParam(t, set.Name, -1)
		}
		if s.has(set.Name) {
			return Step{}, &ParamError{Technique: t.Name, Param: set.Name, Msg: "given twice", Pos: -1}
		}
		if err := p.check(t.Name, set.Value); err != nil {
			return Step{}, err
		}
		s.Settings = append(s.Settings, set)
	}
	s.sortSettings(t)
	if err := t.checkStep(s); err != nil {
		return Step{}, err
	}
	return s, nil
}

func unknownParam(t *Technique, name string, pos int) error {
	allowed := t.Name + " takes no parameters"
	if len(t.Params) > 0 {
		allowed = "parameters of " + t.Name + ": " + strings.Join(t.paramNames(), ", ")
		if c := closest(name, t.paramNames()); c != "" {
			allowed = fmt.Sprintf("did you mean %s? %s", c, allowed)
		}
	}
	return &ParamError{Technique: t.Name, Param: name, Msg: "unknown parameter", Allowed: allowed, Pos: pos}
}

func (t *Technique) checkStep(s Step) error {
	if t.check == nil {
		return nil
	}
	return t.check(resolve(t, s))
}

func (s *Step) sortSettings(t *Technique) {
	order := t.paramNames()
	slices.SortStableFunc(s.Settings, func(a, b Setting) int {
		return slices.Index(order, a.Name) - slices.Index(order, b.Name)
	})
}

func (s Step) has(name string) bool {
	return slices.ContainsFunc(s.Settings, func(x Setting) bool { return x.Name == name })
}

// Get returns a parameter's value: the one given, or the default. It returns the zero Value
// for a name the technique does not have.
func (s Step) Get(name string) Value {
	for _, x := range s.Settings {
		if x.Name == name {
			return x.Value
		}
	}
	if t := lookup(s.Technique); t != nil {
		if p, ok := t.Param(name); ok {
			return p.Default
		}
	}
	return Value{}
}

// String is the step's canonical spelling: `name` or `name(k=v, k=v)`.
func (s Step) String() string {
	if len(s.Settings) == 0 {
		return s.Technique
	}
	parts := make([]string, len(s.Settings))
	for i, x := range s.Settings {
		parts[i] = x.Name + "=" + x.Value.String()
	}
	return s.Technique + "(" + strings.Join(parts, ", ") + ")"
}

// String is the chain's canonical spelling; Parse reads it back to an equal chain.
func (c Chain) String() string {
	parts := make([]string, len(c))
	for i, s := range c {
		parts[i] = s.String()
	}
	return strings.Join(parts, " | ")
}

// params is a step's parameters resolved against its technique: what an implementation reads.
type params struct {
	tech     string
	vals     map[string]Value
	explicit map[string]bool
}

func resolve(t *Technique, s Step) params {
	p := params{tech: t.Name, vals: map[string]Value{}, explicit: map[string]bool{}}
	for _, d := range t.Params {
		p.vals[d.Name] = d.Default
	}
	for _, x := range s.Settings {
		p.vals[x.Name] = x.Value
		p.explicit[x.Name] = true
	}
	return p
}

func (p params) get(name string) Value { return p.vals[name] }
func (p params) has(name string) bool  { return p.explicit[name] }

// Validate checks every step's parameters and that each step can follow the ones before it:
// nothing that expects float32 weights after int8 quantization (cluster is the exception: it
// clusters the int8 values), no quantizing twice, nothing after fp16 but none.
func (c Chain) Validate() error {
	if len(c) == 0 {
		return &ChainError{Msg: "the chain is empty; name at least one technique (none for the baseline)"}
	}
	f := formFloat
	by := map[form]string{}
	clustered := ""
	for i, s := range c {
		t := lookup(s.Technique)
		if t == nil {
			return &UnknownTechniqueError{Name: s.Technique, Pos: -1, Known: names()}
		}
		for _, x := range s.Settings {
			p, ok := t.Param(x.Name)
			if !ok {
				return unknownParam(t, x.Name, -1)
			}
			if err := p.check(t.Name, x.Value); err != nil {
				return err
			}
		}
		if err := t.checkStep(s); err != nil {
			return err
		}
		if !slices.Contains(t.accepts, f) {
			ce := &ChainError{Step: i, Technique: t.Name, After: by[f]}
			switch {
			case t.Quantizes && f == formInt8:
				ce.Msg = "the weights are already int8: quantizing twice adds error and saves nothing"
			case f == formInt8:
				ce.Msg = t.Name + " works on float32 weights and " + by[f] + " made them int8; put " + t.Name + " before the quantization (cluster is the one technique that may follow it)"
			case f == formHalf:
				ce.Msg = t.Name + " works on float32 weights and fp16 made them float16; put fp16 last"
			default:
				ce.Msg = fmt.Sprintf("%s does not take %s weights", t.Name, f)
			}
			return ce
		}
		if t.Name == "cluster" {
			if clustered != "" {
				return &ChainError{Step: i, Technique: t.Name, After: clustered, Msg: "the weights are already clustered; cluster once with the bits you want"}
			}
			clustered = s.String()
		}
		if nf := t.yields(f); nf != f {
			f = nf
			by[f] = s.String()
		}
	}
	return nil
}

// Parse reads a chain spec: techniques separated by `|`, each with optional parameters in
// parentheses, e.g. `prune(sparsity=0.5, scope=global) | int8-static(calib=200)`. It checks
// names, parameter types and ranges, and the chain's order (Validate). Errors give the position
// and what was expected.
func Parse(spec string) (Chain, error) {
	p := &parser{s: spec}
	var c Chain
	p.ws()
	for {
		step, err := p.step()
		if err != nil {
			return nil, err
		}
		c = append(c, step)
		p.ws()
		if p.pos == len(p.s) {
			break
		}
		if p.s[p.pos] != '|' {
			return nil, p.errf(p.pos, "expected '|' between techniques or the end of the spec, found %s", p.found())
		}
		p.pos++
		p.ws()
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

type parser struct {
	s   string
	pos int
}

func (p *parser) errf(pos int, format string, args ...any) error {
	return &SyntaxError{Spec: p.s, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) ws() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.pos++
	}
}

// found describes what is at the current position, for messages.
func (p *parser) found() string {
	if p.pos >= len(p.s) {
		return "the end of the spec"
	}
	r := p.s[p.pos:]
	if len(r) > 12 {
		r = r[:12] + "…"
	}
	return fmt.Sprintf("%q", r)
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '+'
}

// word reads a run of name/number characters.
func (p *parser) word() string {
	start := p.pos
	for p.pos < len(p.s) && isWordByte(p.s[p.pos]) {
		p.pos++
	}
	return p.s[start:p.pos]
}

func (p *parser) step() (Step, error) {
	start := p.pos
	name := p.word()
	if name == "" {
		return Step{}, p.errf(p.pos, "expected a technique name (%s), found %s", strings.Join(names(), ", "), p.found())
	}
	t := lookup(name)
	if t == nil {
		return Step{}, &UnknownTechniqueError{Name: name, Pos: start, Known: names()}
	}
	s := Step{Technique: name}
	at := map[string]int{} // where each parameter was given, for errors found later
	check := func() error {
		err := t.checkStep(s)
		var pe *ParamError
		if errors.As(err, &pe) && pe.Pos < 0 {
			pe.Pos = start
			if p, ok := at[pe.Param]; ok {
				pe.Pos = p
			}
		}
		return err
	}
	p.ws()
	if p.pos == len(p.s) || p.s[p.pos] != '(' {
		return s, check()
	}
	p.pos++
	p.ws()
	if p.pos < len(p.s) && p.s[p.pos] == ')' {
		p.pos++
		return s, check()
	}
	for {
		kpos := p.pos
		key := p.word()
		at[key] = kpos
		if key == "" {
			want := "no parameters"
			if len(t.Params) > 0 {
				want = "a parameter name (" + strings.Join(t.paramNames(), ", ") + ")"
			}
			return Step{}, p.errf(p.pos, "%s takes %s, found %s", name, want, p.found())
		}
		param, ok := t.Param(key)
		if !ok {
			return Step{}, unknownParam(t, key, kpos)
		}
		if s.has(key) {
			return Step{}, &ParamError{Technique: name, Param: key, Msg: "given twice", Pos: kpos}
		}
		p.ws()
		if p.pos >= len(p.s) || p.s[p.pos] != '=' {
			return Step{}, p.errf(p.pos, "expected '=' after parameter %s, found %s", key, p.found())
		}
		p.pos++
		p.ws()
		vpos := p.pos
		text := p.word()
		if text == "" {
			return Step{}, p.errf(p.pos, "expected a value for %s (%s), found %s", key, param.Range(), p.found())
		}
		v, err := param.parseValue(name, text)
		if err != nil {
			err.(*ParamError).Pos = vpos
			return Step{}, err
		}
		s.Settings = append(s.Settings, Setting{Name: key, Value: v})
		p.ws()
		if p.pos < len(p.s) && p.s[p.pos] == ',' {
			p.pos++
			p.ws()
			continue
		}
		if p.pos < len(p.s) && p.s[p.pos] == ')' {
			p.pos++
			break
		}
		return Step{}, p.errf(p.pos, "expected ',' or ')' after %s=%s, found %s", key, text, p.found())
	}
	s.sortSettings(t)
	return s, check()
}
