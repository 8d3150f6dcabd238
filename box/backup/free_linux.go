package backup

import "golang.org/x/sys/unix"

// diskFree returns the bytes free for this process on the file system of
// path, or 0 when it cannot tell.
func diskFree(path string) int64 {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return 0
	}
	return int64(st.Bavail) * int64(st.Bsize) // Bsize is an int32 on 32-bit ARM
}
