//go:build !linux

package backup

// diskFree cannot tell the free space here: only the archive's own sizes
// bound a restore.
func diskFree(string) int64 { return 0 }
