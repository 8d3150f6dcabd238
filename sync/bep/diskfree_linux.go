package bep

import "golang.org/x/sys/unix"

// diskFree returns the bytes free for this process on the file system of
// path, and the file system's size.
func diskFree(path string) (free, total int64, ok bool) {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return 0, 0, false
	}
	return int64(st.Bavail) * st.Bsize, int64(st.Blocks) * st.Bsize, true
}
