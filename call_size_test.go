package gavel

import (
	"testing"
	"unsafe"
)

// A round's calls are written by their goroutines, on different cores: a
// call a whole number of cache lines long shares none with its neighbours.
func TestCallSize(t *testing.T) {
	if size := unsafe.Sizeof(call{}); size%64 != 0 {
		t.Errorf("call is %d bytes, not a multiple of 64: change its padding", size)
	}
}
