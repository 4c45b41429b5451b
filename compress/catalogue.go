package compress

import (
	"slices"
)

// form is what the weights of a model are at a point of a chain: it decides which techniques may
// come next (pruning wants float32 weights; nothing but clustering may follow int8).
type form int

const (
	formFloat form = iota // float32 weights
	formHalf              // float16 weights (fp16)
	formInt8              // int8/uint8 weights with DequantizeLinear (int8-*)
)

func (f form) String() string {
	return [...]string{"float32", "float16", "int8"}[f]
}

// Technique is one entry of the catalogue.
type Technique struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Params      []Param `json:"params"`
	// Calibrates is set when the technique needs a calibration dataset (Options.Calib).
	Calibrates bool `json:"calibrates"`
	// Quantizes is set for the int8 techniques: after one, weights are integers.
	Quantizes bool `json:"quantizes"`

	accepts []form
	yields  func(in form) form
	check   func(p params) error // cross-parameter checks, beyond each value's range
	apply   func(r *run, p params) error
}

// Param returns the named parameter.
func (t *Technique) Param(name string) (Param, bool) {
	for _, p := range t.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

func (t *Technique) paramNames() []string {
	var names []string
	for _, p := range t.Params {
		names = append(names, p.Name)
	}
	return names
}

func same(f form) form { return f }

var catalogue = []*Technique{
	{
		Name:        "none",
		Description: "Baseline: lossless clean-up only (drop Identity/Dropout, fold BatchNormalization into Conv/Gemm, fold constants, drop unused weights); still standard float32 ONNX",
		accepts:     []form{formFloat, formHalf, formInt8},
		yields:      same,
		apply:       func(*run, params) error { return nil }, // the optimisation runs before every chain
	},
	{
		Name:        "fp16",
		Description: "float16 weights, float32 compute: each float weight is stored FLOAT16 and cast to float32 at load (half the bytes, tiny accuracy change)",
		accepts:     []form{formFloat},
		yields:      func(form) form { return formHalf },
		apply:       applyFP16,
	},
	{
		Name:        "int8-dynamic",
		Description: "Weight-only int8: weights stored int8 with per-channel or per-group scales (DequantizeLinear), activations stay float32; no calibration",
		Quantizes:   true,
		Params: []Param{
			{Name: "granularity", Type: Enum, Default: EnumValue("per-channel"), Choices: []string{"per-channel", "per-group"},
				Doc: "one scale per output channel, or one per group of group_size input weights of a channel"},
			{Name: "group_size", Type: Int, Default: IntValue(32), Min: 2, Max: 4096,
				Doc: "weights per scale with granularity=per-group (layers whose input size it does not divide use per-channel)"},
			{Name: "symmetric", Type: Bool, Default: BoolValue(true),
				Doc: "int8 with zero point 0 (true), or uint8 with a zero point per scale (false)"},
		},
		accepts: []form{formFloat},
		yields:  func(form) form { return formInt8 },
		check: func(p params) error {
			if p.has("group_size") && p.get("granularity").Enum != "per-group" {
				return &ParamError{Technique: p.tech, Param: "group_size", Value: p.get("group_size").String(), Pos: -1,
					Msg: "only applies with granularity=per-group", Allowed: "set granularity=per-group, or drop group_size"}
			}
			return nil
		},
		apply: applyInt8Dynamic,
	},
	{
		Name:        "int8-static",
		Description: "Post-training static int8: int8 weights per output channel (symmetric), activations per tensor calibrated on a dataset; standard QDQ (QuantizeLinear/DequantizeLinear) around Conv/Gemm/MatMul",
		Calibrates:  true,
		Quantizes:   true,
		Params: []Param{
			{Name: "calib", Type: Int, Default: IntValue(200), Min: 1, Max: 100000,
				Doc: "calibration samples (the first ones of the calibration dataset)"},
			{Name: "observer", Type: Enum, Default: EnumValue("minmax"), Choices: []string{"minmax", "percentile", "entropy"},
				Doc: "how an activation's range is chosen: its min and max, percentiles, or the range minimising the KL divergence"},
			{Name: "percentile", Type: Float, Default: FloatValue(99.999), Min: 90, Max: 100,
				Doc: "with observer=percentile: the share (in %) of values inside the range"},
			{Name: "activations", Type: Enum, Default: EnumValue("uint8"), Choices: []string{"uint8", "int8"},
				Doc: "activation type (asymmetric, zero point per tensor)"},
		},
		accepts: []form{formFloat},
		yields:  func(form) form { return formInt8 },
		check: func(p params) error {
			if p.has("percentile") && p.get("observer").Enum != "percentile" {
				return &ParamError{Technique: p.tech, Param: "percentile", Value: p.get("percentile").String(), Pos: -1,
					Msg: "only applies with observer=percentile", Allowed: "set observer=percentile, or drop percentile"}
			}
			return nil
		},
		apply: applyInt8Static,
	},
	{
		Name:        "prune",
		Description: "Unstructured pruning: zero Conv/Gemm/MatMul weights to a target sparsity, the smallest ones, or with calibration data those the layer best does without while the rest compensate (SparseGPT); packed as sparse tensors",
		Params: []Param{
			{Name: "sparsity", Type: Float, Default: FloatValue(0.5), Min: 0, Max: 0.99,
				Doc: "share of weights set to zero"},
			{Name: "scope", Type: Enum, Default: EnumValue("lamp"), Choices: []string{"layer", "global", "lamp"},
				Doc: "how much each layer loses: the same share (layer), one magnitude threshold across layers (global), or one LAMP-score threshold that spares small, sensitive layers (lamp)"},
			{Name: "method", Type: Enum, Default: EnumValue("auto"), Choices: []string{"auto", "magnitude", "obs"},
				Doc: "which weights go: the smallest (magnitude), or those whose loss the remaining weights and bias can best compensate on calibration data (obs, SparseGPT); auto is obs when a calibration dataset is given"},
			{Name: "min_fan_in", Type: Int, Default: IntValue(16), Min: 0, Max: 1 << 20,
				Doc: "layers with fewer weights per output channel (3×3 depthwise convolutions, a first layer on a one-channel image) are left dense and the others pruned more; 0 prunes every layer"},
		},
		accepts: []form{formFloat},
		yields:  same,
		apply:   applyPrune,
	},
	{
		Name:        "prune-channels",
		Description: "Structured pruning: remove whole Conv output channels / Gemm units with the smallest L1 norm and rewire the next layer, so the model really gets smaller and faster (layers feeding residual Adds or Concats are kept)",
		Params: []Param{
			{Name: "ratio", Type: Float, Default: FloatValue(0.25), Min: 0, Max: 0.9,
				Doc: "share of each prunable layer's output channels removed"},
			{Name: "method", Type: Enum, Default: EnumValue("auto"), Choices: []string{"auto", "l1", "ls"},
				Doc: "remove the channels only (l1), or also refit the layer after each cut by least squares to its original outputs on calibration data (ls); auto is ls when a calibration dataset is given"},
		},
		accepts: []form{formFloat},
		yields:  same,
		apply:   applyPruneChannels,
	},
	{
		Name:        "cluster",
		Description: "Weight sharing: k-means per layer to 2^bits shared values (zeros kept; with calibration data, GPTQ-style error feedback), packed as bit-packed or Huffman-coded indices plus a codebook; after int8 it clusters the int8 values",
		Params: []Param{
			{Name: "bits", Type: Int, Default: IntValue(3), Min: 1, Max: 8,
				Doc: "bits per weight index: 2^bits shared values per layer"},
			{Name: "iterations", Type: Int, Default: IntValue(20), Min: 1, Max: 1000,
				Doc: "Lloyd iterations at most (it stops earlier when assignments settle)"},
			{Name: "method", Type: Enum, Default: EnumValue("auto"), Choices: []string{"auto", "nearest", "obs"},
				Doc: "each weight to its nearest shared value (nearest), or in turn with the error compensated by the channel's other weights on calibration data (obs, GPTQ-style); auto is obs when a calibration dataset is given"},
			{Name: "min_fan_in", Type: Int, Default: IntValue(16), Min: 0, Max: 1 << 20,
				Doc: "layers with fewer weights per output channel (3×3 depthwise convolutions, a first layer on a one-channel image) get one bit more; 0: none"},
		},
		accepts: []form{formFloat, formInt8},
		yields:  same,
		apply:   applyCluster,
	},
	{
		Name:        "lowrank",
		Description: "Low-rank factorisation: SVD of Gemm/MatMul weights, W ≈ U·V written as two layers, where that reduces parameters",
		Params: []Param{
			{Name: "rank", Type: Int, Default: IntValue(0), Min: 0, Max: 1 << 20,
				Doc: "rank of every factorisation; 0 chooses it per layer by energy"},
			{Name: "energy", Type: Float, Default: FloatValue(0.9), Min: 0, Max: 1, MinOpen: true,
				Doc: "with rank=0: the share of the squared singular values kept"},
		},
		accepts: []form{formFloat},
		yields:  same,
		check: func(p params) error {
			if p.has("energy") && p.get("rank").Int != 0 {
				return &ParamError{Technique: p.tech, Param: "energy", Value: p.get("energy").String(), Pos: -1,
					Msg: "rank and energy are alternatives", Allowed: "set rank, or energy, not both"}
			}
			return nil
		},
		apply: applyLowRank,
	},
}

// Catalogue lists the techniques, in a stable order.
func Catalogue() []Technique {
	out := make([]Technique, len(catalogue))
	for i, t := range catalogue {
		out[i] = *t
		out[i].Params = slices.Clone(t.Params)
	}
	return out
}

// Lookup finds a technique by name; the error (an *UnknownTechniqueError) suggests the nearest.
func Lookup(name string) (Technique, error) {
	t := lookup(name)
	if t == nil {
		return Technique{}, &UnknownTechniqueError{Name: name, Pos: -1, Known: names()}
	}
	c := *t
	c.Params = slices.Clone(t.Params)
	return c, nil
}

func lookup(name string) *Technique {
	for _, t := range catalogue {
		if t.Name == name {
			return t
		}
	}
	return nil
}

func names() []string {
	var out []string
	for _, t := range catalogue {
		out = append(out, t.Name)
	}
	return out
}
