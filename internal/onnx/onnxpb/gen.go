// Package onnxpb holds the Go types generated from onnx.proto.
//
// Generated rather than hand-decoded with protowire: the generated code is exact for every field,
// keeps unknown fields (newer IR versions) when a model is written back, and is what the protobuf
// project fuzzes. Regenerate with protoc and protoc-gen-go v1.36.12:
//
//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Mtinyml_onnx.proto=github.com/tinymlaas/tinyml/internal/onnx/onnxpb tinyml_onnx.proto
package onnxpb
