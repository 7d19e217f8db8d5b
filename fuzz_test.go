package gavel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
)

// fuzzRates converts between USD, EUR and GBP and knows nothing else.
var fuzzRates = gavel.RateFunc(func(from, to string) (float64, error) {
	usd := map[string]float64{"USD": 1, "EUR": 1.08, "GBP": 1.27}
	f, okf := usd[from]
	t, okt := usd[to]
	if !okf || !okt {
		return 0, fmt.Errorf("%w: %s to %s", gavel.ErrNoRate, from, to)
	}
	return f / t, nil
})

// fuzzSeeds are requests and responses, realistic and nasty. The realistic
// request is added in FuzzRun from testdata, and so is every request and
// response of the fixture corpus (testdata/corpus). Most imps offer a
// banner, so that the seeds reach the bid rules rather than stopping at
// OpenRTB 2.6 §3.2.4 (an imp without media is invalid).
var fuzzSeeds = []struct {
	req, resp string
}{
	{`{}`, `{}`},
	{`{"id":"r","at":2,"imp":[{"id":"1","bidfloor":1,"video":{"mimes":["video/mp4"],"podid":"p","poddur":60,"maxseq":3,"mincpmpersec":0.1,"rqddurs":[15,30],"slotinpod":2}},` +
		`{"id":"2","video":{"mimes":["video/mp4"],"podid":"p","slotinpod":1}},{"id":"3","video":{"mimes":["video/mp4"],"podid":"p"}}]}`,
		`{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":9,"dur":30,"adomain":["x.example"],"cat":["IAB2"],"slotinpod":1,"mtype":2,"adm":"<VAST/>"},` +
			`{"id":"b","impid":"1","price":8,"dur":15,"adomain":["y.example"],"slotinpod":-1,"mtype":2,"adm":"<VAST/>"},` +
			`{"id":"c","impid":"1","price":7,"dur":15,"adomain":["X.example"],"slotinpod":2,"mtype":2,"adm":"<VAST/>"},` +
			`{"id":"d","impid":"1","price":3,"dur":20,"mtype":2,"adm":"<VAST/>"},{"id":"e","impid":"1","price":2,"dur":30,"mtype":2,"adm":"<VAST/>"},` +
			`{"id":"f","impid":"2","price":5,"adomain":["y.example"],"mtype":2,"adm":"<VAST/>"},{"id":"g","impid":"3","price":4,"cat":["IAB2-1"],"mtype":2,"adm":"<VAST/>"},` +
			`{"id":"h","impid":"3","price":3,"cat":["IAB3"],"mtype":2,"adm":"<VAST/>"}]}]}`},
	{`null`, `null`},
	{`{"id":"r","imp":[{"id":"1","banner":{}}]}`, `{"id":"r","seatbid":[{"bid":[{"id":"b","impid":"1","price":1.5,"adm":"<a/>"}]}]}`},
	{`{"id":"r","imp":[{"id":"1"}]}`, `{"id":"r","seatbid":[{"bid":[{"id":"b","impid":"1","price":1.5,"adm":"<a/>"}]}]}`},
	{`{"id":"r","imp":[{"id":"1","bidfloor":2,"banner":{}}],"at":1}`,
		`{"id":"r","seatbid":[{"seat":"s","bid":[{"id":"b","impid":"1","price":2,"adm":"x"},{"id":"b","impid":"1","price":3,"adm":"x"},{"id":"c","impid":"1","price":1.99,"adm":"x"}]}]}`},
	{`{"id":"r","imp":[{"id":"1","banner":{}},{"id":"2","banner":{}}],"cur":["EUR"]}`,
		`{"id":"r","cur":"USD","seatbid":[{"bid":[{"id":"a","impid":"1","price":1e300,"adm":"x"},{"id":"b","impid":"2","price":-1,"adm":"x"},{"id":"c","impid":"3","price":1,"adm":"x"},{"id":"d","impid":"2","price":0.000001,"nurl":"https://n"},{"id":"a","impid":"2","price":2,"adm":"x"}]}]}`},
	{`{"id":"r","imp":[{"id":"1","bidfloor":1,"bidfloorcur":"GBP","banner":{}}],"cur":["USD","EUR"]}`,
		`{"id":"r","cur":"EUR","seatbid":[{"bid":[{"id":"a","impid":"1","price":1.2,"adm":"x"}]},{"seat":"other","bid":[{"id":"a","impid":"1","price":1.2,"adm":"x"}]}]}`},
	{`{"id":"r","imp":[{"id":"1","bidfloor":1,"bidfloorcur":"XYZ","banner":{}}],"cur":["USD","EUR"]}`, `{"id":"r"}`},
	{`{"id":"r","imp":[{"id":"1","bidfloor":1,"banner":{},"pmp":{"deals":[{"id":"d","bidfloor":2,"bidfloorcur":"XYZ"}]}}],"cur":["EUR","USD"]}`,
		`{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":3,"adm":"x","dealid":"d"},{"id":"b","impid":"1","price":2,"adm":"x"}]}]}`},
	{`{"id":"r","imp":[{"id":"1","banner":{}}],"cur":["XYZ"]}`, `{"id":"r","cur":"XYZ","seatbid":[{"bid":[{"id":"a","impid":"1","price":1,"adm":"x"}]}]}`},
	{`{"id":"r","imp":[{"id":"1"},{"id":"1"}]}`, `{"id":"r"}`},
	{`{"id":"r","imp":[{"id":"1","bidfloor":-1}],"tmax":-5,"at":7,"cur":[""]}`, `{"id":"r"}`},
	{`{"id":"r","imp":[{"id":"1","video":{},"audio":{},"native":{}}],"site":{},"app":{},"dooh":{}}`, `{"id":"r"}`},
	{`{"id":"r","imp":[]}`, `{"id":"r"}`},
	{`{"id":"","imp":[{"id":""}]}`, `{"id":""}`},
	{`{"id":"r","tmax":99999999999,"imp":[{"id":"1","banner":{},"pmp":{"private_auction":1,"deals":[{"id":"d","bidfloor":3,"at":3},{"id":"e","bidfloor":1,"wseat":["nobody"]}]}}]}`,
		`{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":5,"dealid":"d","adm":"x"},{"id":"b","impid":"1","price":9,"adm":"x"},{"id":"c","impid":"1","price":2,"dealid":"d","adm":"x"},{"id":"e","impid":"1","price":4,"dealid":"e","adm":"x"},{"id":"f","impid":"1","price":4,"dealid":"zz","adm":"x"}]}]}`},
	{`{"id":"r","imp":[{"id":"1","banner":{},"pmp":{"deals":[{"id":"d","at":3}]}}]}`, `{"id":"r"}`},
	{`{"id":"r","imp":[{"id":"1","banner":{},"pmp":{"deals":[{"id":"d"},{"id":"d"}]}}]}`, `{"id":"r"}`},
	{`{"id":"r","imp":[{"id":"1","secure":1,"banner":{"format":[{"w":300,"h":250},{"wratio":16,"hratio":9,"wmin":320}],"battr":[1,2]}}],"bcat":["IAB25"],"acat":["IAB1"],"badv":["bad.example"],"bapp":["com.bad"],"bseat":["x"]}`,
		`{"id":"r","seatbid":[{"seat":"x","bid":[{"id":"a","impid":"1","price":5,"adm":"x"}]},{"bid":[{"id":"b","impid":"1","price":4,"adm":"http://insecure"},{"id":"c","impid":"1","price":3,"adm":"x","w":728,"h":90},{"id":"d","impid":"1","price":3,"adm":"x","w":640,"h":360},{"id":"e","impid":"1","price":2,"adm":"x","attr":[2]},{"id":"f","impid":"1","price":2,"adm":"x","cat":["IAB25-3"]},{"id":"g","impid":"1","price":2,"adm":"x","cat":["IAB2"]},{"id":"h","impid":"1","price":2,"adm":"x","adomain":["ads.BAD.example"]},{"id":"i","impid":"1","price":2,"adm":"x","bundle":"com.bad"},{"id":"j","impid":"1","price":1.5,"adm":"x","cat":["IAB1-1"]},{"id":"k","impid":"1","price":1.5,"adm":"x","cat":["IAB1"],"cattax":6},{"id":"l","impid":"1","price":1.4,"adm":"x","nurl":"http://n","iurl":"http://i"}]}]}`},
	{`{"id":"r","imp":[{"id":"1","banner":{"w":300,"h":250,"wmax":9223372036854775807,"hmax":1},"video":{"mimes":["video/mp4"]}}],"wseat":["a"]}`,
		`{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":3,"adm":"x","w":9223372036854775807,"h":9223372036854775807,"mtype":1}]}]}`},
	{`{"id":"r","imp":[{"id":"1","secure":1,"video":{"mimes":["video/mp4"],"battr":[1]},"native":{"request":"{}","battr":[2]}}]}`,
		`{"id":"r","seatbid":[{"bid":[{"id":"a","impid":"1","price":3,"adm":"<VAST version=\"4.2\"><Ad><MediaFile>http://v</MediaFile></Ad></VAST>"},{"id":"b","impid":"1","price":2,"adm":"{\"native\":{\"link\":{\"url\":\"https:\\/\\/x\"}}}","attr":[2]},{"id":"c","impid":"1","price":2,"adm":"<div/>"},{"id":"d","impid":"1","price":1,"adm":"x","mtype":9},{"id":"e","impid":"1","price":1,"nurl":"https://n","attr":[1]}]}]}`},
	{`{"id":"r","imp":[{"id":"1","banner":{},"qty":{"multiplier":2.5}}],"dooh":{"id":"screen"}}`,
		`{"id":"other","bidid":"bid-1","nbr":2,"seatbid":[{"bid":[{"id":"a","impid":"1","price":3,"adm":"${AUCTION_PRICE}","lurl":"https://l?p=${AUCTION_LOSS}&m=${AUCTION_MIN_TO_WIN}&c=${AUCTION_PRICE}"}]}]}`},
	{`{"id":"r","imp":[{"id":"1","banner":{}}]}`, `{"id":"r","nbr":8,"seatbid":[]}`},
	{`{"id":"r","imp":[{"id":"1","banner":{}}]}`, `{"id":"r","seatbid":[{"bid":[]},{}]}`},
	{`{"id":"r","imp":[{"id":"1","banner":{}}]}`, `{"id":"another"}`},
	{`{"id":"r\u0000\u2028日本","imp":[{"id":"\ud83d\ude00","banner":{}}]}`,
		`{"id":"r\u0000\u2028日本","seatbid":[{"seat":"\ud83d\ude00","bid":[{"id":"\u0000","impid":"\ud83d\ude00","price":1,"adm":"x"}]}]}`},
	{`{"id":"r","imp":[{"id":"1","banner":{}}]}`, `not json`},
}

// FuzzRun runs an auction for a fuzzed request among two bidders that both
// answer with a fuzzed response, and checks what must hold whatever the
// input: Run does not panic, returns on time, refuses only with a
// *RequestError or a *CurrencyError, leaves the request alone, and its
// Result is consistent.
func FuzzRun(f *testing.F) {
	realistic, err := os.ReadFile("testdata/bidrequest-3imp.json")
	require.NoError(f, err)
	realisticResp := `{"id":"7f3c2a9e-5b1d-4c8e-9a6f-2d4e8b1c7a3f","bidid":"resp-1","cur":"USD","seatbid":[
		{"seat":"seat-a","bid":[
			{"id":"a1","impid":"1","price":5.25,"dealid":"deal-premium-123","adomain":["brand.example"],"adm":"<div>https://cdn.example/a1</div>","crid":"cr-a1","w":728,"h":90,"mtype":1},
			{"id":"a2","impid":"2","price":0.95,"adm":"<div>a2</div>","crid":"cr-a2","w":300,"h":250,"mtype":1,"cat":["IAB12"]},
			{"id":"a3","impid":"3","price":14,"dealid":"deal-video-789","adm":"<VAST/>","mtype":2}]},
		{"seat":"seat-v","bid":[
			{"id":"v1","impid":"3","price":13,"dealid":"deal-video-789","adm":"<VAST/>","mtype":2},
			{"id":"v2","impid":"1","price":2.4,"dealid":"deal-open-456","adm":"<div>v2</div>","w":970,"h":250,"mtype":1},
			{"id":"v3","impid":"1","price":1.9,"adm":"<div>v3</div>","adomain":["competitor.example"]}]}]}`
	f.Add(realistic, []byte(realisticResp), true)
	f.Add(realistic, []byte(realisticResp), false)
	for _, c := range loadCorpus(f) {
		for _, resp := range c.responses {
			f.Add(c.request, resp, false)
		}
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s.req), []byte(s.resp), true)
		f.Add([]byte(s.req), []byte(s.resp), false)
	}

	const maxTMax = 50 * time.Millisecond
	f.Fuzz(func(t *testing.T, reqJSON, respJSON []byte, forceID bool) {
		var req *openrtb2.BidRequest
		if json.Unmarshal(reqJSON, &req) != nil {
			return
		}
		var before []byte
		if req != nil {
			var err error
			if before, err = json.Marshal(req); err != nil {
				return
			}
		}
		var resp *openrtb2.BidResponse
		if json.Unmarshal(respJSON, &resp) != nil {
			resp = nil
		}
		if resp != nil && req != nil && forceID {
			resp.ID = req.ID
		}
		answer := func(context.Context, *openrtb2.BidRequest) (*openrtb2.BidResponse, error) { return resp, nil }
		a, err := gavel.New(
			gavel.WithBidders(gavel.BidderFunc("a", answer), gavel.BidderFunc("seat-a", answer)),
			gavel.WithMaxTMax(maxTMax), gavel.WithDefaultTMax(maxTMax),
			gavel.WithCurrencyConverter(fuzzRates),
		)
		require.NoError(t, err)

		start := time.Now()
		res, err := a.Run(context.Background(), req)
		// Fuzzing keeps every core busy, so this catches inputs that make
		// Run hang or crawl, not milliseconds: the deadline tests do those.
		require.Less(t, time.Since(start), maxTMax+time.Second, "Run took too long")

		if req != nil {
			after, merr := json.Marshal(req)
			require.NoError(t, merr)
			require.True(t, bytes.Equal(before, after), "Run modified the request")
		}
		if err != nil {
			require.Nil(t, res)
			var ce *gavel.CurrencyError
			if errors.As(err, &ce) {
				require.ErrorIs(t, err, gavel.ErrNoCurrency)
				require.NotErrorIs(t, err, gavel.ErrInvalidRequest)
				require.Equal(t, openrtb3.NoBidTechnicalError, ce.Reason)
				return
			}
			var re *gavel.RequestError
			require.ErrorAs(t, err, &re)
			require.ErrorIs(t, err, gavel.ErrInvalidRequest)
			require.Equal(t, openrtb3.NoBidInvalidRequest, re.Reason)
			return
		}
		require.NotNil(t, res)
		checkResult(t, req, res)
	})
}

// checkPod checks the winners of a dynamic pod (OpenRTB 2.6 §7.6): at
// most maxseq ads of at most poddur seconds together, each with its hold,
// the first of them the imp's Winner.
func checkPod(t *testing.T, imp *openrtb2.Imp, res *gavel.Result, ir *gavel.ImpResult) {
	var podDur, maxSeq int64
	switch {
	case imp.Video != nil && (imp.Video.PodDur > 0 || imp.Video.PodID != ""):
		podDur, maxSeq = imp.Video.PodDur, imp.Video.MaxSeq
	case imp.Audio != nil:
		podDur, maxSeq = imp.Audio.PodDur, imp.Audio.MaxSeq
	}
	require.Positive(t, podDur, "only a dynamic pod has a Pod")
	pod := ir.Pod
	require.Len(t, pod.Holds, len(pod.Winners))
	if len(pod.Winners) > 0 {
		require.Equal(t, pod.Winners[0], ir.Winner)
	}
	var secs int64
	for _, w := range pod.Winners {
		secs += res.Bids[w].Bid.Dur
	}
	require.Equal(t, secs, pod.Seconds)
	require.LessOrEqual(t, secs, podDur, "the pod's winners last longer than the pod")
	if maxSeq > 0 {
		require.LessOrEqual(t, int64(len(pod.Winners)), maxSeq, "the pod has more ads than maxseq")
	}
}

// checkResult checks the invariants of a Result.
func checkResult(t *testing.T, req *openrtb2.BidRequest, res *gavel.Result) {
	require.Equal(t, req.ID, res.AuctionID)
	require.Len(t, res.Imps, len(req.Imp))
	winners := make([]int, len(req.Imp))
	for i := range res.Bids {
		b := &res.Bids[i]
		require.NotNil(t, b.Bid)
		if !b.Won {
			require.Positive(t, int(b.Loss), "bid %d lost without a reason", i)
			require.Zero(t, b.ClearMicros, "bid %d lost but pays", i)
			continue
		}
		require.Equal(t, openrtb3.LossWon, b.Loss)
		require.GreaterOrEqual(t, b.Imp, 0)
		require.Less(t, b.Imp, len(req.Imp))
		ir := &res.Imps[b.Imp]
		require.True(t, ir.Winner == i || ir.Pod != nil && slices.Contains(ir.Pod.Winners, i), "the imp names its winner")
		winners[b.Imp]++
		require.GreaterOrEqual(t, b.ClearMicros, int64(0))
		require.LessOrEqual(t, b.ClearMicros, b.PriceMicros, "the winner pays more than it bid")
		if b.Deal == nil {
			require.GreaterOrEqual(t, b.ClearMicros, res.Imps[b.Imp].FloorMicros, "the winner pays less than the floor")
		}
		require.Equal(t, req.Imp[b.Imp].ID, b.Bid.ImpID)
	}
	for i, ir := range res.Imps {
		require.Equal(t, req.Imp[i].ID, ir.ImpID)
		if ir.Pod == nil {
			require.LessOrEqual(t, winners[i], 1, "imp %d has %d winners", i, winners[i])
		} else {
			checkPod(t, &req.Imp[i], res, &ir)
			require.Len(t, ir.Pod.Winners, winners[i])
		}
		if ir.Winner >= 0 {
			require.Less(t, ir.Winner, len(res.Bids))
			require.True(t, res.Bids[ir.Winner].Won)
		}
	}
	for _, br := range res.Bidders {
		require.NotEqual(t, "unknown", br.Status.String(), br.Bidder)
	}
	if !res.HasWinner() {
		require.NotZero(t, res.NBR)
	}
	for i := range res.Bids {
		_ = res.LossURL(i)
	}
	out := res.BidResponse()
	require.Equal(t, req.ID, out.ID)
	_, err := json.Marshal(out)
	require.NoError(t, err)
}
