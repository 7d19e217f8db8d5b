package predict

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// The snapshot format; see the package doc.
const (
	snapshotMagic   = "gavelLR\x00"
	snapshotVersion = 1
	headerSize      = 8 + 2 + 1 + 1 + 8 + 5*8 + 8 // magic, version, bits, reserved, count, 5 floats, seed
	entrySize       = 4 + 8 + 8                   // index, z, n
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrSnapshot is wrapped by Load's error for data that is not a snapshot
// Load can read: a wrong magic number, an unknown version, a truncated or
// corrupted (checksum) snapshot, or an invalid configuration or
// coordinate.
var ErrSnapshot = errors.New("predict: invalid snapshot")

// Save writes the model to w in the snapshot format (see the package doc):
// its configuration and every coordinate that has been updated. Learning
// waits while Save runs; Predict does not. It returns w's error.
func (m *Model) Save(w io.Writer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	count := 0
	for i := range m.n {
		if m.n[i] != 0 || m.z[i] != 0 {
			count++
		}
	}
	buf := make([]byte, 0, headerSize+count*entrySize+4)
	buf = append(buf, snapshotMagic...)
	buf = binary.LittleEndian.AppendUint16(buf, snapshotVersion)
	buf = append(buf, byte(m.cfg.Bits), 0)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(count))
	for _, f := range [...]float64{m.cfg.Alpha, m.cfg.Beta, m.cfg.L1, m.cfg.L2, m.cfg.NegativeRate} {
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(f))
	}
	buf = binary.LittleEndian.AppendUint64(buf, m.cfg.Seed)
	for i := range m.n {
		if m.n[i] == 0 && m.z[i] == 0 {
			continue
		}
		buf = binary.LittleEndian.AppendUint32(buf, uint32(i))
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(m.z[i]))
		buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(m.n[i]))
	}
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, castagnoli))
	_, err := w.Write(buf)
	return err
}

// Load reads a model written by Save from r, reading exactly the snapshot.
// It returns an error wrapping ErrSnapshot for data it cannot trust (see
// ErrSnapshot), r's error otherwise. It allocates the model only after
// the checksum matched, and reads no more than the header announces.
func Load(r io.Reader) (*Model, error) {
	head := make([]byte, headerSize)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, readErr("header", err)
	}
	if string(head[:8]) != snapshotMagic {
		return nil, fmt.Errorf("%w: bad magic number %q", ErrSnapshot, head[:8])
	}
	if v := binary.LittleEndian.Uint16(head[8:]); v != snapshotVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrSnapshot, v, snapshotVersion)
	}
	bits, count := int(head[10]), binary.LittleEndian.Uint64(head[12:])
	if bits < 1 || bits > MaxBits || count > 1<<bits {
		return nil, fmt.Errorf("%w: %d coordinates of %d bits", ErrSnapshot, count, bits)
	}
	rest := int64(count)*entrySize + 4
	body, err := io.ReadAll(io.LimitReader(r, rest))
	if err != nil {
		return nil, readErr("coordinates", err)
	}
	if int64(len(body)) < rest {
		return nil, fmt.Errorf("%w: truncated: %d bytes of %d", ErrSnapshot, headerSize+len(body), headerSize+rest)
	}
	sum := crc32.Update(crc32.Checksum(head, castagnoli), castagnoli, body[:len(body)-4])
	if want := binary.LittleEndian.Uint32(body[len(body)-4:]); sum != want {
		return nil, fmt.Errorf("%w: checksum %08x, want %08x", ErrSnapshot, sum, want)
	}
	return decode(head, body[:len(body)-4])
}

// decode builds the model of a snapshot whose checksum matched.
func decode(head, entries []byte) (*Model, error) {
	f := func(k int) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(head[20+8*k:])) }
	cfg := Config{
		Bits: int(head[10]), Alpha: f(0), Beta: f(1), L1: f(2), L2: f(3), NegativeRate: f(4),
		Seed: binary.LittleEndian.Uint64(head[60:]),
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	if head[11] != 0 {
		return nil, fmt.Errorf("%w: reserved byte %d", ErrSnapshot, head[11])
	}
	m, err := NewModel(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSnapshot, err)
	}
	next := uint64(0)
	for e := entries; len(e) > 0; e = e[entrySize:] {
		i := binary.LittleEndian.Uint32(e)
		z := math.Float64frombits(binary.LittleEndian.Uint64(e[4:]))
		n := math.Float64frombits(binary.LittleEndian.Uint64(e[12:]))
		if uint64(i) < next || uint64(i) >= uint64(len(m.w)) || !finite(z) || !finite(n) || n < 0 {
			return nil, fmt.Errorf("%w: coordinate %d (z %v, n %v) out of order, out of range or not finite", ErrSnapshot, i, z, n)
		}
		next = uint64(i) + 1
		m.z[i], m.n[i] = z, n
		m.w[i] = math.Float64bits(cfg.ftrlWeight(z, n))
	}
	return m, nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// readErr says which part of a snapshot r failed to give: a short read
// is a truncated snapshot.
func readErr(part string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: truncated in the %s", ErrSnapshot, part)
	}
	return fmt.Errorf("predict: reading the snapshot's %s: %w", part, err)
}
