//go:build !unix

package docker

// lendVolume leaves ownership alone where there are no Unix owners; the engine's own file
// sharing decides what the container may write.
func (r *Runner) lendVolume(string, []string) (string, func(), error) {
	return r.user, func() {}, nil
}
