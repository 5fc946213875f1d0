//go:build !unix

package store

// lockDir is a no-op where flock is unavailable: the single-owner rule is then
// the operator's to keep.
func lockDir(string) (func() error, error) { return func() error { return nil }, nil }
