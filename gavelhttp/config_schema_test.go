package gavelhttp

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goFields returns the JSON path of every field of the Config tree, with
// what the schema must say of its type: "duration", "amount", or a JSON
// type. List elements are named with [].
func goFields(path string, t reflect.Type, out map[string]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[Duration]():
		out[path] = "duration"
		return
	case t == reflect.TypeFor[Micros]():
		out[path] = "amount"
		return
	case t == reflect.TypeFor[time.Time]():
		out[path] = "string"
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if path != "" {
			out[path] = "object"
		}
		for i := range t.NumField() {
			goFields(join(path, jsonName(t.Field(i))), t.Field(i).Type, out)
		}
	case reflect.Slice:
		out[path] = "array"
		if e := t.Elem(); e.Kind() == reflect.Struct {
			goFields(path+"[]", e, out)
			delete(out, path+"[]")
		}
	case reflect.Map:
		out[path] = "object"
	case reflect.Bool:
		out[path] = "boolean"
	case reflect.Float64:
		out[path] = "number"
	case reflect.Int, reflect.Int64:
		out[path] = "integer"
	default:
		out[path] = "string"
	}
}

type schemaNode = map[string]any

// resolve follows n's $ref, merging what n says beside it (its own
// properties win).
func resolve(root, n schemaNode) schemaNode {
	ref, ok := n["$ref"].(string)
	if !ok {
		return n
	}
	name := strings.TrimPrefix(ref, "#/$defs/")
	def := root["$defs"].(schemaNode)[name].(schemaNode)
	out := schemaNode{"$def": name}
	for k, v := range def {
		out[k] = v
	}
	for k, v := range n {
		if k == "properties" {
			props := schemaNode{}
			for pk, pv := range def["properties"].(schemaNode) {
				props[pk] = pv
			}
			for pk, pv := range v.(schemaNode) {
				props[pk] = pv
			}
			v = props
		}
		out[k] = v
	}
	return out
}

// schemaFields returns the path of every property of the schema, with
// its type as goFields names it, and the node at each path.
func schemaFields(root, n schemaNode, path string, out map[string]string, nodes map[string]schemaNode) {
	n = resolve(root, n)
	nodes[path] = n
	if path != "" {
		out[path] = schemaType(n)
	}
	if props, ok := n["properties"].(schemaNode); ok {
		for k, v := range props {
			schemaFields(root, v.(schemaNode), join(path, k), out, nodes)
		}
	}
	if items, ok := n["items"].(schemaNode); ok {
		items = resolve(root, items)
		nodes[path+"[]"] = items
		if _, ok := items["properties"]; ok {
			schemaFields(root, items, path+"[]", out, nodes)
			delete(out, path+"[]")
		}
	}
}

func schemaType(n schemaNode) string {
	if d, ok := n["$def"].(string); ok && d != "store" {
		return d
	}
	switch t := n["type"].(type) {
	case string:
		return t
	case []any:
		return t[0].(string) // ["object", "null"], ["string", "null"]
	}
	if e, ok := n["enum"].([]any); ok {
		if _, num := e[0].(float64); num {
			return "integer"
		}
		return "string"
	}
	return "?"
}

// The schema and the Go structs name the same fields with the same types,
// each enum holds the values ParseConfig accepts, and every property is
// described.
func TestConfigSchemaInSync(t *testing.T) {
	var root schemaNode
	require.NoError(t, json.Unmarshal(ConfigSchema(), &root))
	assert.Equal(t, "https://json-schema.org/draft/2020-12/schema", root["$schema"])

	want := map[string]string{}
	goFields("", reflect.TypeFor[Config](), want)
	got := map[string]string{}
	nodes := map[string]schemaNode{}
	schemaFields(root, root, "", got, nodes)
	assert.Equal(t, want, got, "fields of Config (want) and of config.schema.json (got)")

	for key, values := range configEnums {
		n, ok := nodes[strings.TrimSuffix(key, "[]")]
		if strings.HasSuffix(key, "[]") {
			n, ok = nodes[key]
		}
		require.True(t, ok, "no schema node for %s", key)
		if alts, ok := n["anyOf"].([]any); ok { // profile_keys: the enum, or eid:SOURCE
			n = alts[0].(schemaNode)
		}
		var enum []string
		for _, v := range n["enum"].([]any) {
			enum = append(enum, fmt.Sprint(v))
		}
		assert.Equal(t, values, enum, "enum of %s", key)
	}
	assert.Contains(t, nodes, "auction.profile_keys[]")

	for path, n := range nodes {
		d, _ := n["description"].(string)
		assert.NotEmpty(t, d, "description of %q", path)
	}
	for name, def := range root["$defs"].(schemaNode) {
		assert.NotEmpty(t, def.(schemaNode)["description"], "description of $defs.%s", name)
	}
	assert.Contains(t, got, "bidders[].notice_hosts")
}
