package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLoad sends 200 requests at once, a tenth of them invalid, and
// requires the answer each deserves: 200 or 204 for a valid request (204
// when every demo bidder failed or ran late), 400 for an invalid one.
// goleak in TestMain checks that nothing is left running after shutdown.
func TestLoad(t *testing.T) {
	s := start(t, nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

	const n = 200
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		body := []byte(`{"id":"broken"`)
		if i%10 != 0 {
			var err error
			body, err = json.Marshal(request(fmt.Sprintf("load-%d", i), fmt.Sprintf("user-%d", i%4)))
			require.NoError(t, err)
		}
		wg.Go(func() {
			resp, err := client.Post(s.base+pathAuction, "application/json", bytes.NewReader(body))
			if err != nil {
				return // codes[i] stays 0
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	won := 0
	for i, code := range codes {
		if i%10 == 0 {
			assert.Equal(t, http.StatusBadRequest, code, "request %d", i)
			continue
		}
		assert.Contains(t, []int{http.StatusOK, http.StatusNoContent}, code, "request %d", i)
		if code == http.StatusOK {
			won++
		}
	}
	assert.Positive(t, won)
	// Connections the client dialed but never used look new to the
	// server, which waits 5s for them on shutdown: close them first.
	client.CloseIdleConnections()
	s.stop(t)
}
