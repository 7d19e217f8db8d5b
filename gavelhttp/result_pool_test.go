package gavelhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// echoBidder bids on every imp with bid ids, markup and lurl naming the
// request, so that an answer built from another auction's Result shows.
type echoBidder struct {
	name  string
	price float64
}

func (b echoBidder) Name() string { return b.name }

func (b echoBidder) Bid(_ context.Context, req *openrtb2.BidRequest) (*openrtb2.BidResponse, error) {
	resp := &openrtb2.BidResponse{ID: req.ID, SeatBid: []openrtb2.SeatBid{{Seat: b.name}}}
	for _, imp := range req.Imp {
		bid := auctiontest.Bid(req.ID+"/"+b.name+"/"+imp.ID, imp.ID, b.price)
		bid.AdM = "<div>" + req.ID + "</div>"
		bid.LURL = "http://127.0.0.1:1/loss?req=" + req.ID
		resp.SeatBid[0].Bid = append(resp.SeatBid[0].Bid, bid)
	}
	return resp, nil
}

// resultReader is an AuctionEndHook that reads the whole Result it is
// given and checks that it is the request's.
type resultReader struct {
	mu   sync.Mutex
	errs []error
}

func (r *resultReader) OnAuctionEnd(_ context.Context, req *openrtb2.BidRequest, res *gavel.Result, err error) {
	if err != nil {
		return
	}
	bad := res.AuctionID != req.ID || len(res.Imps) != len(req.Imp)
	for i := range res.Bids {
		bad = bad || !strings.HasPrefix(res.Bids[i].Bid.ID, req.ID+"/")
	}
	for i := range res.Bidders {
		bad = bad || res.Bidders[i].Bidder == ""
	}
	if bad {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.errs = append(r.errs, fmt.Errorf("request %s: result of %s", req.ID, res.AuctionID))
	}
}

// The handler runs its auctions on pooled Results (result_pool.go): many
// requests at once, with Notices reading each Result to sign its billing
// URLs, a result notifier reading it for its loss notices and a hook
// reading all of it, never see another auction's Result; run under -race,
// a Result pooled while any of them still read it is a reported race.
func TestPooledResultsAreNeverShared(t *testing.T) {
	hook := &resultReader{}
	// Up to 5 s per auction (postEcho's tmax): the bidders answer at once,
	// and a loaded machine (the whole suite under -race) must not time
	// them out, which would change the winners this test expects.
	a, err := gavel.New(gavel.WithBidders(echoBidder{"alpha", 2.5}, echoBidder{"beta", 1.5}, echoBidder{"gamma", 1}),
		gavel.WithHooks(hook), gavel.WithMaxTMax(5*time.Second))
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	keys, err := gavelhttp.NewKeys(gavelhttp.Key{ID: "k1", Secret: bytes.Repeat([]byte("s"), gavelhttp.MinKeyBytes)})
	require.NoError(t, err)
	notifier, _ := newNotifier(t, gavelhttp.WithNotifierQueue(1)) // loss notices refused or dropped: only queuing reads the Result
	notices, err := gavelhttp.NewNotices(a, keys, "http://127.0.0.1/billing", notifier)
	require.NoError(t, err)
	h, err := gavelhttp.NewAuctionHandler(a, gavelhttp.WithNotices(notices), gavelhttp.WithResultNotifier(notifier))
	require.NoError(t, err)

	const clients, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for c := range clients {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("r-%d-%d", c, i)
				if err := postEcho(h, keys, id, 1+i%3); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.Empty(t, hook.errs)
	assert.Equal(t, int64(clients*each), h.Stats().Won)
}

// postEcho posts a request of id with imps imps to h and checks that the
// answer is its own: every bid, its markup and its billing token.
func postEcho(h http.Handler, keys *gavelhttp.Keys, id string, imps int) error {
	req := auctiontest.Request(id)
	req.TMax = 5000
	for i := range imps {
		req.Imp = append(req.Imp, auctiontest.BannerImp(fmt.Sprint(i+1), 0.5, [2]int64{300, 250}))
	}
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(data)))
	if rec.Code != http.StatusOK {
		return fmt.Errorf("%s: status %d: %s", id, rec.Code, rec.Body)
	}
	var resp openrtb2.BidResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		return err
	}
	if resp.ID != id || len(resp.SeatBid) != 1 || len(resp.SeatBid[0].Bid) != imps {
		return fmt.Errorf("%s: response %s", id, rec.Body)
	}
	for _, bid := range resp.SeatBid[0].Bid {
		if bid.ID != id+"/alpha/"+bid.ImpID || bid.AdM != "<div>"+id+"</div>" {
			return fmt.Errorf("%s: bid %s with adm %s", id, bid.ID, bid.AdM)
		}
		u, err := url.Parse(bid.BURL)
		if err != nil {
			return err
		}
		n, err := keys.Verify(u.Query().Get("t"), time.Now())
		if err != nil {
			return err
		}
		if n.Billing.AuctionID != id || n.Billing.BidID != bid.ID || n.Billing.ImpID != bid.ImpID {
			return fmt.Errorf("%s: billing %+v for bid %s", id, n.Billing, bid.ID)
		}
	}
	return nil
}
