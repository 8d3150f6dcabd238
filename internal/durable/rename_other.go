//go:build !linux

package durable

// RenameNoReplace renames from to to, unless something is at to: then the
// error wraps fs.ErrExist. Here it checks, then renames.
func RenameNoReplace(from, to string) error { return renameIfFree(from, to) }
