package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gavelrtb/gavel"
)

// TestConfigKafkaEvents runs an exchange whose events go to Kafka (kfake,
// a fake cluster over TCP on 127.0.0.1): after an impression is won and
// billed, a consumer of the topic reads its billing event.
func TestConfigKafkaEvents(t *testing.T) {
	const topic = "gavel-events"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, topic))
	require.NoError(t, err)
	t.Cleanup(cluster.Close) // after the exchange, which stops first
	d := newTestDSP(t, "dsp", 2, false)
	conf := testConfig("", d)
	conf["events"] = map[string]any{"kind": "kafka", "brokers": cluster.ListenAddrs(), "topic": topic}
	s, _ := launchConfig(t, conf)
	c := testClient(t)

	code, resp := postAuction(t, c, s.base, slowRequest("kafka-1"))
	require.Equal(t, http.StatusOK, code)
	_, bid := seatOf(t, resp)
	r, err := c.Get(bid.BURL)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, r.Body)
	_ = r.Body.Close()
	require.Equal(t, http.StatusNoContent, r.StatusCode)

	billing := consumeBilling(t, cluster.ListenAddrs(), topic, "kafka-1")
	assert.Equal(t, "dsp", billing.Bidder)
	c.CloseIdleConnections()
	s.stop(t) // closes the Kafka sink: what it holds is delivered
}

// consumeBilling reads topic from the start until the billing event of
// auction id arrives, for at most 10 seconds, and returns it.
func consumeBilling(t *testing.T, brokers []string, topic, id string) *gavel.Event {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		var found *gavel.Event
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var e gavel.Event
			require.NoError(t, json.Unmarshal(r.Value, &e), "record %s", r.Value)
			if e.Type == gavel.EventBilling && e.AuctionID == id {
				found = &e
			}
		})
		if found != nil {
			return found
		}
	}
	t.Fatalf("no billing event of auction %s in topic %s within 10s", id, topic)
	return nil
}
