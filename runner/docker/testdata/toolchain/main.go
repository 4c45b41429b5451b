// Command toolchain is a custom compile toolchain written against the job contract alone (it
// imports nothing of the SDK): it reads $TINYML_VOLUME/compile/spec.json, "compiles" by copying
// the model to the spec's out path, and writes result.json. Packed in an image of its own, it
// stands for a user's compiler image (Run.Toolchain).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

type spec struct {
	Step  string `json:"step"`
	Model string `json:"model"`
	Out   string `json:"out"`
}

type result struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

func main() {
	if len(os.Args) != 3 || os.Args[1] != "step" {
		fmt.Fprintln(os.Stderr, "usage: toolchain step NAME")
		os.Exit(2)
	}
	vol := os.Getenv("TINYML_VOLUME")
	dir := filepath.Join(vol, os.Args[2])
	err := run(vol, dir)
	res := result{OK: err == nil}
	if err != nil {
		res.Error = "custom toolchain: " + err.Error()
		fmt.Fprintln(os.Stderr, res.Error)
	}
	b, _ := json.Marshal(res)
	if werr := os.WriteFile(filepath.Join(dir, "result.json"), b, 0o644); werr != nil {
		fmt.Fprintln(os.Stderr, "write result:", werr)
		os.Exit(1)
	}
	if err != nil {
		os.Exit(1)
	}
}

func run(vol, dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "spec.json"))
	if err != nil {
		return err
	}
	var s spec
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	fmt.Printf("custom toolchain: %s %s -> %s\n", s.Step, s.Model, s.Out)
	model, err := os.ReadFile(filepath.Join(vol, s.Model))
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(vol, s.Out), model, 0o644)
}
