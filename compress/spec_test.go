package compress

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParsePrintsCanonicalSpecs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"none", "none"},
		{"  int8-static  ", "int8-static"},
		{"prune()", "prune"},
		{"prune(sparsity=0.5)|int8-static(calib=200)", "prune(sparsity=0.5) | int8-static(calib=200)"},
		{"prune( scope = global , sparsity = .7 )", "prune(sparsity=0.7, scope=global)"},
		{"int8-dynamic(granularity=per-group, group_size=64, symmetric=false)", "int8-dynamic(granularity=per-group, group_size=64, symmetric=false)"},
		{"int8-static(observer=percentile, percentile=99.9, activations=int8)", "int8-static(observer=percentile, percentile=99.9, activations=int8)"},
		{"lowrank(energy=1e-1)", "lowrank(energy=0.1)"},
		{"prune | int8-static | cluster(bits=4)", "prune | int8-static | cluster(bits=4)"},
		{"prune-channels(ratio=+0.25) | fp16", "prune-channels(ratio=0.25) | fp16"},
		{"cluster(bits=2) | fp16", "cluster(bits=2) | fp16"},
	} {
		c, err := Parse(tc.in)
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, c.String(), tc.in)
		again, err := Parse(c.String())
		require.NoError(t, err)
		require.Equal(t, c, again)
	}
}

func TestStepsResolveDefaults(t *testing.T) {
	c := mustParse(t, "prune(scope=layer) | int8-static")
	require.Equal(t, 0.5, c[0].Get("sparsity").Float)
	require.Equal(t, "layer", c[0].Get("scope").Enum)
	require.Equal(t, int64(200), c[1].Get("calib").Int)
	require.Equal(t, Value{}, c[1].Get("nope"))

	s, err := NewStep("cluster", Setting{"bits", IntValue(4)})
	require.NoError(t, err)
	require.Equal(t, "cluster(bits=4)", s.String())
	_, err = NewStep("cluster", Setting{"bits", FloatValue(4)})
	require.ErrorIs(t, err, ErrBadParam)
}

func TestBadSpecsSayWhereAndWhat(t *testing.T) {
	for _, tc := range []struct {
		spec  string
		is    error
		pos   int      // for syntax errors: the byte offset
		param string   // for parameter errors
		says  []string // words the message must contain
	}{
		{spec: "", is: ErrSyntax, pos: 0, says: []string{"expected a technique name", "end of the spec"}},
		{spec: "prune |", is: ErrSyntax, pos: 7, says: []string{"expected a technique name"}},
		{spec: "prune int8-static", is: ErrSyntax, pos: 6, says: []string{"expected '|'"}},
		{spec: "prune(sparsity 0.5)", is: ErrSyntax, pos: 15, says: []string{"expected '='", "sparsity"}},
		{spec: "prune(sparsity=)", is: ErrSyntax, pos: 15, says: []string{"expected a value for sparsity", "[0, 0.99]"}},
		{spec: "prune(sparsity=0.5", is: ErrSyntax, pos: 18, says: []string{"expected ',' or ')'"}},
		{spec: "prune(=1)", is: ErrSyntax, pos: 6, says: []string{"parameter name", "sparsity"}},
		{spec: "fp16(x=1)", is: ErrBadParam, param: "x", says: []string{"unknown parameter", "fp16 takes no parameters"}},
		{spec: "prunee", is: ErrUnknownTechnique, says: []string{`"prunee"`, `did you mean "prune"`, "int8-static"}},
		{spec: "prune(sparsty=0.5)", is: ErrBadParam, param: "sparsty", says: []string{"unknown parameter", "did you mean sparsity"}},
		{spec: "prune(sparsity=1.5)", is: ErrBadParam, param: "sparsity", says: []string{"prune", "sparsity=1.5", "out of range", "[0, 0.99]"}},
		{spec: "prune(sparsity=NaN)", is: ErrBadParam, param: "sparsity", says: []string{"not a finite number"}},
		{spec: "prune(sparsity=half)", is: ErrBadParam, param: "sparsity", says: []string{"not a finite number"}},
		{spec: "cluster(bits=9)", is: ErrBadParam, param: "bits", says: []string{"an integer from 1 to 8"}},
		{spec: "cluster(bits=2.5)", is: ErrBadParam, param: "bits", says: []string{"not an integer"}},
		{spec: "int8-static(observer=median)", is: ErrBadParam, param: "observer", says: []string{"one of minmax, percentile, entropy"}},
		{spec: "int8-dynamic(symmetric=yes)", is: ErrBadParam, param: "symmetric", says: []string{"true or false"}},
		{spec: "prune(sparsity=0.5, sparsity=0.6)", is: ErrBadParam, param: "sparsity", says: []string{"given twice"}},
		{spec: "int8-static(percentile=99)", is: ErrBadParam, param: "percentile", says: []string{"observer=percentile"}},
		{spec: "int8-dynamic(group_size=16)", is: ErrBadParam, param: "group_size", says: []string{"granularity=per-group"}},
		{spec: "lowrank(rank=8, energy=0.9)", is: ErrBadParam, param: "energy", says: []string{"not both"}},
		{spec: "int8-static | int8-dynamic", is: ErrBadChain, says: []string{"step 2", "quantizing twice"}},
		{spec: "int8-static | fp16", is: ErrBadChain, says: []string{"fp16", "int8-static", "int8"}},
		{spec: "int8-dynamic | prune", is: ErrBadChain, says: []string{"prune works on float32 weights", "put prune before"}},
		{spec: "fp16 | prune", is: ErrBadChain, says: []string{"float16", "put fp16 last"}},
		{spec: "fp16 | cluster", is: ErrBadChain, says: []string{"put fp16 last"}},
		{spec: "cluster | prune | cluster", is: ErrBadChain, says: []string{"already clustered"}},
	} {
		_, err := Parse(tc.spec)
		require.Error(t, err, tc.spec)
		require.ErrorIs(t, err, tc.is, "%s: %v", tc.spec, err)
		for _, w := range tc.says {
			require.Contains(t, err.Error(), w, tc.spec)
		}
		var se *SyntaxError
		if errors.As(err, &se) {
			require.Equal(t, tc.pos, se.Pos, "%s: %v", tc.spec, err)
		}
		var pe *ParamError
		if errors.As(err, &pe) {
			require.Equal(t, tc.param, pe.Param, tc.spec)
			require.GreaterOrEqual(t, pe.Pos, 0, "%s: the parser gives the position", tc.spec)
		}
	}
}

func TestCatalogueIsComplete(t *testing.T) {
	cat := Catalogue()
	var names []string
	for _, tech := range cat {
		names = append(names, tech.Name)
		require.NotEmpty(t, tech.Description, tech.Name)
		for _, p := range tech.Params {
			require.NotEmpty(t, p.Doc, "%s.%s", tech.Name, p.Name)
			require.NoError(t, p.check(tech.Name, p.Default), "%s.%s: its default must be allowed", tech.Name, p.Name)
			require.NotEmpty(t, p.Range())
		}
		got, err := Lookup(tech.Name)
		require.NoError(t, err)
		require.Equal(t, tech.Name, got.Name)
		_, err = Parse(tech.Name)
		require.NoError(t, err, "every technique works with its defaults")
	}
	require.Equal(t, []string{"none", "fp16", "int8-dynamic", "int8-static", "prune", "prune-channels", "cluster", "lowrank"}, names)
	_, err := Lookup("int4")
	var ue *UnknownTechniqueError
	require.ErrorAs(t, err, &ue)
	// Catalogue returns copies: changing one does not change the catalogue.
	cat[0].Description = "changed"
	require.NotEqual(t, "changed", Catalogue()[0].Description)
}

// FuzzParse: any text either fails with one of the package's errors or parses to a chain whose
// canonical text parses back to an equal chain and prints the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"none", "prune(sparsity=0.5) | int8-static(calib=200)", "cluster(bits=4)|fp16",
		"int8-dynamic(granularity=per-group,group_size=8)", "lowrank(energy=.95)", "prune(", "|", "a(b=c)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		c, err := Parse(spec)
		if err != nil {
			for _, sentinel := range []error{ErrSyntax, ErrUnknownTechnique, ErrBadParam, ErrBadChain} {
				if errors.Is(err, sentinel) {
					return
				}
			}
			t.Fatalf("Parse(%q): an error of no known kind: %v", spec, err)
		}
		text := c.String()
		again, err := Parse(text)
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", spec, text, err)
		}
		if !reflect.DeepEqual(c, again) || again.String() != text {
			t.Fatalf("Parse(%q) = %q reparses to %q", spec, text, again.String())
		}
		if strings.ContainsAny(text, "\n\t") {
			t.Fatalf("canonical text %q has layout characters", text)
		}
	})
}
