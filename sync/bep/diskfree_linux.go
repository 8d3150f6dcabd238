package bep

import "golang.org/x/sys/unix"

// diskFree returns the bytes free for this process on the file system of
// path, and the file system's size.
func diskFree(path string) (free, total int64, ok bool) {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return 0, 0, false
	}
	bs := int64(st.Bsize) // int32 on 32-bit ARM
	return int64(st.Bavail) * bs, int64(st.Blocks) * bs, true
}
