// Package jobspec holds the few names the job contract fixes, shared by the runners that start
// jobs and the worker that runs inside them.
package jobspec

// VolumePath is where container runners mount the run volume.
const VolumePath = "/tinyml/run"

// VolumeEnv names the environment variable holding the volume's path as the job sees it.
const VolumeEnv = "TINYML_VOLUME"
