package gavelhttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written in JSON as a Go duration string:
// "80ms", "1m30s".
type Duration time.Duration

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return leafError(short(b) + " is not a duration string")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return leafError(strconv.Quote(s) + " is not a duration")
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes d as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// String returns d as a Go duration string.
func (d Duration) String() string { return time.Duration(d).String() }

// Micros is money in int64 micros, written in JSON as a decimal amount in
// currency units, a string or a number, with at most six decimals: "500.00"
// is 500_000_000. It is read exactly, with no floating point.
type Micros int64

// UnmarshalJSON reads a decimal amount.
func (m *Micros) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return leafError(short(b) + " is not an amount")
		}
	}
	v, err := parseMicros(s)
	if err != nil {
		return leafError(strconv.Quote(s) + " is not an amount: " + err.Error())
	}
	*m = Micros(v)
	return nil
}

// MarshalJSON writes m as a decimal string with at least two decimals.
func (m Micros) MarshalJSON() ([]byte, error) { return json.Marshal(m.String()) }

// String returns m in currency units with at least two decimals: "0.01",
// "2.000125".
func (m Micros) String() string {
	v := int64(m)
	sign := ""
	if v < 0 {
		sign, v = "-", -v // MinInt64 is not reachable: parseMicros stops short of it
	}
	frac := strings.TrimRight(fmt.Sprintf("%06d", v%1_000_000), "0")
	for len(frac) < 2 {
		frac += "0"
	}
	return sign + strconv.FormatInt(v/1_000_000, 10) + "." + frac
}

// parseMicros reads a decimal amount in units into micros.
func parseMicros(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, dot := strings.Cut(s, ".")
	switch {
	case whole == "" || (dot && frac == ""):
		return 0, errors.New("want digits, an optional point and up to 6 decimals")
	case len(frac) > 6:
		return 0, errors.New("more than 6 decimals")
	}
	digits := whole + frac + strings.Repeat("0", 6-len(frac))
	for _, r := range digits {
		if r < '0' || r > '9' {
			return 0, errors.New("want digits, an optional point and up to 6 decimals")
		}
	}
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, errors.New("too large")
	}
	if neg {
		v = -v
	}
	return v, nil
}

// A defaulter is a list element with defaults of its own, set before its
// JSON is read over it.
type defaulter interface{ setDefaults() }

// leafError is the message of a value that is not what its field holds.
type leafError string

func (e leafError) Error() string { return string(e) }

// walker decodes JSON into a config's structs field by field, so that it
// finds every unknown field and every value of the wrong type, not only
// the first as encoding/json does.
type walker struct {
	problems []string
	failed   map[string]bool // paths whose value could not be read
}

// fail records the value at path that could not be read.
func (w *walker) fail(path, format string, args ...any) {
	if w.failed == nil {
		w.failed = make(map[string]bool)
	}
	w.failed[path] = true
	w.add("%s: %s", rootName(path), fmt.Sprintf(format, args...))
}

func (w *walker) add(format string, args ...any) {
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

// root decodes data into v, or records its one syntax error. It reports
// whether data is a JSON object.
func (w *walker) root(data []byte, v any) bool {
	var probe any
	if err := json.Unmarshal(data, &probe); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := position(data, se.Offset)
			w.add("line %d, column %d: %v", line, col, err)
			return false
		}
		w.add("%v", err)
		return false
	}
	if _, ok := probe.(map[string]any); !ok {
		w.add("config: %s is not an object", short(data))
		return false
	}
	w.decode("", data, reflect.ValueOf(v).Elem())
	return true
}

// position returns the line and column of the byte at offset.
func position(data []byte, offset int64) (line, col int) {
	offset = min(offset, int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, max(col, 1)
}

var timeType = reflect.TypeFor[time.Time]()

// decode reads raw into v at path. A null leaves v as it is.
func (w *walker) decode(path string, raw json.RawMessage, v reflect.Value) {
	if string(bytes.TrimSpace(raw)) == "null" {
		return
	}
	if u, ok := v.Addr().Interface().(json.Unmarshaler); ok {
		if err := u.UnmarshalJSON(raw); err != nil {
			var le leafError
			msg := short(raw) + " is not an RFC 3339 time"
			if errors.As(err, &le) {
				msg = le.Error()
			} else if v.Type() != timeType {
				msg = err.Error()
			}
			w.fail(path, "%s", msg)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		w.object(path, raw, v)
	case reflect.Slice:
		w.array(path, raw, v)
	case reflect.Map:
		w.mapping(path, raw, v)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		w.decode(path, raw, p.Elem())
		v.Set(p)
	default:
		if err := json.Unmarshal(raw, v.Addr().Interface()); err != nil {
			w.fail(path, "%s is not %s", short(raw), kindName(v.Kind()))
		}
	}
}

// object reads a JSON object into the struct v: each known field, then
// each unknown one named.
func (w *walker) object(path string, raw json.RawMessage, v reflect.Value) {
	fields, ok := w.members(path, raw)
	if !ok {
		return
	}
	t := v.Type()
	index := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		index[jsonName(t.Field(i))] = i
	}
	for _, f := range fields {
		if f.dup {
			w.fail(join(path, f.name), "given twice")
			continue
		}
		if i, ok := index[f.name]; ok {
			w.decode(join(path, f.name), f.raw, v.Field(i))
			continue
		}
		w.add("unknown field %q", join(path, f.name))
	}
}

// member is one name and value of a JSON object.
type member struct {
	name string
	raw  json.RawMessage
	dup  bool // the name came before: its value is not read
}

// members returns the members of the JSON object raw in their order, or
// records that raw is not an object.
func (w *walker) members(path string, raw json.RawMessage) ([]member, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		w.fail(path, "%s is not an object", short(raw))
		return nil, false
	}
	var out []member
	seen := map[string]bool{}
	for dec.More() {
		t, _ := dec.Token() // raw is valid JSON: a name, then its value
		name, _ := t.(string)
		var v json.RawMessage
		_ = dec.Decode(&v)
		out = append(out, member{name: name, raw: v, dup: seen[name]})
		seen[name] = true
	}
	return out, true
}

func (w *walker) array(path string, raw json.RawMessage, v reflect.Value) {
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		w.fail(path, "%s is not an array", short(raw))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(a), len(a))
	for i, r := range a {
		if d, ok := s.Index(i).Addr().Interface().(defaulter); ok {
			d.setDefaults()
		}
		w.decode(fmt.Sprintf("%s[%d]", path, i), r, s.Index(i))
	}
	v.Set(s)
}

func (w *walker) mapping(path string, raw json.RawMessage, v reflect.Value) {
	fields, ok := w.members(path, raw)
	if !ok {
		return
	}
	out := reflect.MakeMapWithSize(v.Type(), len(fields))
	for _, f := range fields {
		if f.dup {
			w.fail(join(path, f.name), "given twice")
			continue
		}
		e := reflect.New(v.Type().Elem()).Elem()
		w.decode(join(path, f.name), f.raw, e)
		out.SetMapIndex(reflect.ValueOf(f.name), e)
	}
	v.Set(out)
}

// jsonName is the name of f in JSON: its json tag's.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func rootName(path string) string {
	if path == "" {
		return "config"
	}
	return path
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "an integer"
}

// short returns raw compacted, cut to 40 bytes.
func short(raw []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		b.Reset()
		b.Write(raw)
	}
	s := b.String()
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}
