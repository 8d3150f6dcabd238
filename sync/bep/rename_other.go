//go:build !linux

package bep

// renameNoReplace renames from to to unless something is already at to.
// Without an atomic way here, it checks then renames.
func renameNoReplace(from, to string) error { return renameIfFree(from, to) }
