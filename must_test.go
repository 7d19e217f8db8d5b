package gavel_test

// must returns v, and panics when err is not nil: for constructors whose
// options a test knows to be valid.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
