package gavelhttp

import (
	"bytes"
	_ "embed"
)

//go:embed config.schema.json
var configSchema []byte

// ConfigSchema returns the JSON Schema (2020-12) of the config that
// ParseConfig reads, every property described with its default. The
// caller may modify the returned slice.
func ConfigSchema() []byte { return bytes.Clone(configSchema) }
