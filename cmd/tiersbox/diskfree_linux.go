package main

import "golang.org/x/sys/unix"

// diskFree returns the bytes free for the daemon on the file system of
// path, for the staff's dashboard.
func diskFree(path string) (int64, bool) {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true // Bsize is an int32 on 32-bit ARM
}
