package campaign

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestDedupeExpiresAndBounds(t *testing.T) {
	d := newDedupe(dedupeShards * 4)
	now := time.Unix(1_767_225_600, 0)
	k := [16]byte{1}
	assert.True(t, d.add(k, now, now.Add(time.Second)))
	assert.False(t, d.add(k, now.Add(999*time.Millisecond), now.Add(2*time.Second)), "held within its window")
	assert.True(t, d.add(k, now.Add(time.Second), now.Add(2*time.Second)), "expired: new again")

	// One shard (first byte 0) holds at most 4 keys: the oldest go first.
	for i := range 100 {
		d.add([16]byte{0, byte(i)}, now, now.Add(time.Hour))
	}
	assert.LessOrEqual(t, d.len(), 5)
	assert.False(t, d.add([16]byte{0, 99}, now, now.Add(time.Hour)), "the newest is still held")
	assert.True(t, d.add([16]byte{0, 0}, now, now.Add(time.Hour)), "the oldest was forgotten early")
}
