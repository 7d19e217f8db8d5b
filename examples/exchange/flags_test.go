package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFlags checks how -config combines with the other flags: -addr,
// -max-in-flight and -shed-status override the file's server section only
// when given, and the demo's -events, -key and -asap are refused with it.
func TestFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"-config", "x.json"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "x.json", cfg.file)
	assert.Empty(t, cfg.addr, "the file's server.addr")

	cfg, err = parseFlags([]string{"-config", "x.json", "-addr", "127.0.0.1:9"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9", cfg.addr)

	cfg, err = parseFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, DefaultAddr, cfg.addr)

	for _, extra := range [][]string{{"-events", "e.jsonl"}, {"-key", "k"}, {"-asap"}} {
		_, err = parseFlags(append([]string{"-config", "x.json"}, extra...), io.Discard)
		assert.ErrorContains(t, err, "-events, -key and -asap are for the demo", "%v", extra)
	}

	cfg, err = parseFlags([]string{"-fast-addr", "127.0.0.1:9", "-codec", "goccy"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9", cfg.fastAddr)
	assert.NotNil(t, cfg.codec)
	cfg, err = parseFlags([]string{"-codec", "std"}, io.Discard)
	require.NoError(t, err)
	assert.Empty(t, cfg.fastAddr)
	assert.Nil(t, cfg.codec, "gavel's default")
	_, err = parseFlags([]string{"-codec", "sonic"}, io.Discard)
	assert.ErrorContains(t, err, `codec "sonic": want std or goccy`)

	// With -config, the file's shedding options unless the flags are given.
	cfg, err = parseFlags([]string{"-config", "x.json"}, io.Discard)
	require.NoError(t, err)
	assert.Empty(t, cfg.handler)
	cfg, err = parseFlags([]string{"-config", "x.json", "-shed-status", "503", "-max-in-flight", "8"}, io.Discard)
	require.NoError(t, err)
	assert.Len(t, cfg.handler, 2)
}

// TestConfigStartErrors checks that a config the exchange cannot start
// with fails run at once with an error naming the cause: a file that is
// not there, unknown fields, and a Redis or Kafka that does not answer.
func TestConfigStartErrors(t *testing.T) {
	dir := t.TempDir()
	d := newTestDSP(t, "dsp", 2, false)
	unknown := testConfig(filepath.Join(dir, "events.jsonl"), d)
	unknown["server"] = map[string]any{"adr": "127.0.0.1:0"}
	deadRedis := testConfig(filepath.Join(dir, "events.jsonl"), d)
	deadRedis["stores"] = map[string]any{"ledger": map[string]any{"kind": "redis", "addr": deadAddr(t)}}
	deadKafka := testConfig("", d)
	deadKafka["events"] = map[string]any{"kind": "kafka", "brokers": []string{deadAddr(t)}, "topic": "gavel-events"}
	for name, tc := range map[string]struct {
		conf map[string]any
		want string
	}{
		"unknown field": {unknown, `"server.adr"`},
		"dead redis":    {deadRedis, "stores.ledger: redis at "},
		"dead kafka":    {deadKafka, "events: no kafka broker of "},
		"missing file":  {nil, "no such file"},
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, "missing.json")
			if tc.conf != nil {
				path = filepath.Join(dir, name+".json")
				writeConfig(t, path, tc.conf)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := run(ctx, config{file: path, shutdownTimeout: time.Second}, io.Discard)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

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
