//go:build !linux

package drive

// renameNoReplace renames from to to, unless something is at to: then it
// returns an error wrapping fs.ErrExist.
func renameNoReplace(from, to string) error { return renameIfFree(from, to) }
