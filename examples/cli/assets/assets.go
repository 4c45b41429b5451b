// Package assets bundles the demo's models and data into the binary, so `tinyml demo` needs no
// files: two models trained on scikit-learn's digits (an MLP and a small CNN, exported by
// PyTorch; see testdata/README.md for how they were made), its 360-sample test split and a
// 200-sample calibration set.
package assets

import "embed"

// FS holds digits_mlp.onnx, digits_cnn.onnx, digits_test.csv and digits_calib.csv.
//
//go:embed *.onnx *.csv
var FS embed.FS
