package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel/codecs/gavelgoccy"
)

// TestFastEndpoints runs the demo exchange with -fast-addr and -codec
// goccy: the fasthttp server answers auctions and notices as the net/http
// one does (the winners' burls point at the net/http server, whose
// notices the fasthttp server serves too), refuses a tampered token, has
// no other path, and stops with the exchange; the billing is one event.
func TestFastEndpoints(t *testing.T) {
	s := launch(t, config{fastAddr: "127.0.0.1:0", codec: gavelgoccy.Codec()})
	fast := s.x.fastBase
	require.NotEmpty(t, fast)
	assert.Contains(t, s.out.String(), fast+pathAuction)
	assert.Contains(t, s.out.String(), "codec     goccy")

	resp := winningAuction(t, fast)
	bid := resp.SeatBid[0].Bid[0]
	require.True(t, strings.HasPrefix(bid.BURL, s.base+pathBilling+"?t="), bid.BURL)
	burl := fast + strings.TrimPrefix(bid.BURL, s.base)
	code, _ := get(t, burl[:len(burl)-2]+"AA")
	assert.Equal(t, http.StatusForbidden, code, "a tampered token")
	code, _ = get(t, burl)
	assert.Equal(t, http.StatusNoContent, code)
	code, _ = get(t, burl) // a retry bills nothing more
	assert.Equal(t, http.StatusNoContent, code)
	code, _ = get(t, fast+pathMetrics)
	assert.Equal(t, http.StatusNotFound, code, "the net/http server's alone")

	body, err := json.Marshal(request("bad", "user-1"))
	require.NoError(t, err)
	code, b := post(t, fast+pathAuction, body[:len(body)-1])
	assert.Equal(t, http.StatusBadRequest, code, string(b))

	s.stop(t)
	assert.Equal(t, []string{resp.ID}, billedAuctions(t, s.events), "one billing event, of the auction won")
}
