package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The shedding and pacing flags: parsed into the config, refused out of
// range with every problem named.
func TestSheddingFlags(t *testing.T) {
	var errs bytes.Buffer
	cfg, err := parseFlags([]string{"-max-in-flight", "40", "-shed-status", "503", "-asap"}, &errs)
	require.NoError(t, err)
	assert.Len(t, cfg.handler, 2, "max in flight and shed status")
	assert.True(t, cfg.asap)

	cfg, err = parseFlags(nil, &errs)
	require.NoError(t, err)
	assert.Len(t, cfg.handler, 1, "shed status only: the handler's own default bound")
	assert.False(t, cfg.asap)

	_, err = parseFlags([]string{"-max-in-flight", "-1", "-shed-status", "500"}, &errs)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "max in flight -1")
	assert.Contains(t, err.Error(), "shed status 500")

	var out, stderr bytes.Buffer
	assert.Equal(t, 2, cli([]string{"-shed-status", "200"}, &out, &stderr))
	assert.Contains(t, stderr.String(), "shed status 200")
}
