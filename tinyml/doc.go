// Package tinyml is the public face of the TinyML-as-a-Service SDK.
//
// It loads ONNX models into a pure-Go inference engine (LoadModel, Session, Evaluate) and, on
// top of that, runs the studio: projects of runs that take a model through compression,
// installation on a device and inference on that device, and compare the results.
package tinyml
