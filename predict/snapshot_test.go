package predict_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/gavelrtb/gavel/predict"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// trained returns a small model trained on a few examples, and its
// snapshot.
func trained(t testing.TB) (*predict.Model, []byte) {
	t.Helper()
	cfg := testConfig()
	cfg.Bits, cfg.L1, cfg.Seed = 6, 0.01, 42
	m, err := predict.NewModel(cfg)
	require.NoError(t, err)
	tr := newTruth(8, 3, 4, -1)
	r := rand.New(rand.NewPCG(8, 8))
	var x []uint32
	for range 200 {
		var y bool
		x, _, y = tr.draw(r, x)
		m.Learn(x, y)
	}
	var buf bytes.Buffer
	require.NoError(t, m.Save(&buf))
	return m, buf.Bytes()
}

func requireSameModel(t *testing.T, want, got *predict.Model) {
	t.Helper()
	require.Equal(t, want.Config(), got.Config())
	for i := range uint32(1) << want.Bits() {
		require.Equal(t, want.Weight(i), got.Weight(i), "coordinate %d", i)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	m, snap := trained(t)
	require.Positive(t, m.NonZero())
	got, err := predict.Load(bytes.NewReader(snap))
	require.NoError(t, err)
	requireSameModel(t, m, got)
	var again bytes.Buffer
	require.NoError(t, got.Save(&again))
	assert.Equal(t, snap, again.Bytes(), "a loaded model saves the same snapshot")

	// It goes on learning as the original does.
	x := []uint32{0, 1, 5}
	assert.Equal(t, m.Update(x, true, 1), got.Update(x, true, 1))
	requireSameModel(t, m, got)
}

func TestSnapshotReadsExactlyItsBytes(t *testing.T) {
	m, snap := trained(t)
	r := bytes.NewReader(append(append([]byte{}, snap...), "next"...))
	got, err := predict.Load(r)
	require.NoError(t, err)
	requireSameModel(t, m, got)
	rest, _ := io.ReadAll(r)
	assert.Equal(t, "next", string(rest))
}

func TestSnapshotEveryFlippedByteRefused(t *testing.T) {
	_, snap := trained(t)
	for i := range snap {
		for _, bit := range []byte{0x01, 0x80} {
			bad := append([]byte{}, snap...)
			bad[i] ^= bit
			_, err := predict.Load(bytes.NewReader(bad))
			require.ErrorIs(t, err, predict.ErrSnapshot, "byte %d bit %#x", i, bit)
		}
	}
}

func TestSnapshotTruncationRefused(t *testing.T) {
	_, snap := trained(t)
	for n := range len(snap) {
		_, err := predict.Load(bytes.NewReader(snap[:n]))
		require.ErrorIs(t, err, predict.ErrSnapshot, "%d bytes of %d", n, len(snap))
	}
	_, err := predict.Load(bytes.NewReader(snap[:len(snap)-1]))
	assert.ErrorContains(t, err, "truncated")
}

func TestSnapshotErrors(t *testing.T) {
	_, snap := trained(t)
	bad := append([]byte{}, snap...)
	bad[0] = 'G'
	_, err := predict.Load(bytes.NewReader(bad))
	assert.ErrorContains(t, err, "bad magic number")
	bad = append([]byte{}, snap...)
	bad[8] = 2
	_, err = predict.Load(bytes.NewReader(bad))
	assert.ErrorContains(t, err, "version 2, want 1")
	bad = append([]byte{}, snap...)
	bad[len(bad)-30] ^= 1
	_, err = predict.Load(bytes.NewReader(bad))
	assert.ErrorContains(t, err, "checksum")

	fail := errors.New("disk gone")
	_, err = predict.Load(io.MultiReader(bytes.NewReader(snap[:10]), iotestErr{fail}))
	assert.ErrorIs(t, err, fail)
	assert.NotErrorIs(t, err, predict.ErrSnapshot)
}

type iotestErr struct{ err error }

func (r iotestErr) Read([]byte) (int, error) { return 0, r.err }

func FuzzLoad(f *testing.F) {
	_, snap := trained(f)
	f.Add(snap)
	f.Add(snap[:70])
	f.Add([]byte("gavelLR\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := predict.Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		require.NoError(t, m.Save(&buf))
		got, err := predict.Load(&buf)
		require.NoError(t, err)
		requireSameModel(t, m, got)
	})
}
