//go:build unix

package docker

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// jobUID and jobGID are the unprivileged user containers run as ("nobody").
const jobUID, jobGID = 65534, 65534

// lendVolume picks the container's user and, when the runner is root, gives the job's output
// directory to that user; restore takes it back, with everything the job created in it.
func (r *Runner) lendVolume(vol string, command []string) (user string, restore func(), err error) {
	if r.user != "" {
		return r.user, func() {}, nil
	}
	if os.Geteuid() != 0 {
		return fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()), func() {}, nil
	}
	dir := outputDir(vol, command)
	st, err := os.Lstat(dir)
	if err != nil {
		return "", nil, err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return "", nil, fmt.Errorf("%s: no owner information", dir)
	}
	uid, gid := int(sys.Uid), int(sys.Gid)
	if err := os.Lchown(dir, jobUID, jobGID); err != nil {
		return "", nil, err
	}
	restore = func() {
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if info, err := d.Info(); err == nil {
				if s, ok := info.Sys().(*syscall.Stat_t); ok && (s.Uid == jobUID || s.Gid == jobGID) {
					if err := os.Lchown(p, uid, gid); err != nil {
						r.log.Warn("give a job's file back", "path", p, "err", err)
					}
				}
			}
			return nil
		})
		if err := os.Lchown(dir, uid, gid); err != nil {
			r.log.Warn("give the job's output directory back", "path", dir, "err", err)
		}
	}
	return fmt.Sprintf("%d:%d", jobUID, jobGID), restore, nil
}

// outputDir is where a job may write: $VOLUME/NAME for a studio step (`step NAME`), else the
// volume's top directory.
func outputDir(vol string, command []string) string {
	if len(command) >= 2 && command[0] == "step" && filepath.IsLocal(command[1]) {
		d := filepath.Join(vol, command[1])
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	return vol
}
