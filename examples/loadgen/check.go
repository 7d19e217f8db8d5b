package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// Errors Check returns, each wrapped with the detail.
var (
	// ErrWrongStatus: a valid request answered other than 200 or 204, or an
	// invalid one answered other than 400.
	ErrWrongStatus = errors.New("wrong status")
	// ErrBadResponse: a 200 whose body is not a valid BidResponse for its
	// request.
	ErrBadResponse = errors.New("invalid bid response")
)

// headerShed marks the answer to a request the exchange shed, unread, to
// keep its deadlines under overload (gavelhttp.HeaderShed).
const headerShed = "Gavel-Shed"

// Shed reports whether an answer sheds its request: a 204 or a 503 that
// says so in the Gavel-Shed header. A shed request was not read, so a shed
// answer is right for any request, an invalid one included. A 204 without
// the header is an auction that ran and found no bid (its nbr may be the
// same); a 503 without it is an error.
func Shed(status int, h http.Header) bool {
	return (status == http.StatusNoContent || status == http.StatusServiceUnavailable) && h.Get(headerShed) != ""
}

// Check judges one answer: the status and body got for the request exp
// describes. It returns nil for a right answer: 400 to an invalid request;
// 204, or 200 with a valid BidResponse, to a valid one.
func Check(exp Expect, status int, body []byte) error {
	if exp.Invalid != "" {
		if status != http.StatusBadRequest {
			return fmt.Errorf("%w: %d to an invalid request (%s), want 400", ErrWrongStatus, status, exp.Invalid)
		}
		return nil
	}
	switch status {
	case http.StatusNoContent:
		return nil
	case http.StatusOK:
		if err := checkBidResponse(exp, body); err != nil {
			return fmt.Errorf("%w: %v", ErrBadResponse, err)
		}
		return nil
	}
	return fmt.Errorf("%w: %d to a valid request, want 200 or 204", ErrWrongStatus, status)
}

// checkBidResponse checks that body is one BidResponse answering exp: the
// same id, a currency the request allows, and every bid on one of its imps
// at a positive price.
func checkBidResponse(exp Expect, body []byte) error {
	var resp openrtb2.BidResponse
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&resp); err != nil {
		return fmt.Errorf("undecodable body: %v", err)
	}
	if dec.More() {
		return errors.New("trailing data after the response")
	}
	if resp.ID != exp.ID {
		return fmt.Errorf("id %q, want %q", resp.ID, exp.ID)
	}
	if cur := currency(resp.Cur); !allowed(exp.Cur, cur) {
		return fmt.Errorf("cur %q not in the request's %q", cur, exp.Cur)
	}
	bids := 0
	for _, sb := range resp.SeatBid {
		for _, b := range sb.Bid {
			bids++
			if !slices.Contains(exp.ImpIDs, b.ImpID) {
				return fmt.Errorf("bid %q: impid %q is not one of the request's %q", b.ID, b.ImpID, exp.ImpIDs)
			}
			if !(b.Price > 0) {
				return fmt.Errorf("bid %q: price %v, want > 0", b.ID, b.Price)
			}
		}
	}
	if bids == 0 {
		return errors.New("a 200 with no bid")
	}
	return nil
}

// currency is the currency a response is in: USD when cur is empty
// (OpenRTB 2.6 §4.2.1).
func currency(cur string) string {
	if cur == "" {
		return "USD"
	}
	return cur
}

// allowed reports whether a response in cur answers a request allowing
// curs; a request with none allows USD.
func allowed(curs []string, cur string) bool {
	if len(curs) == 0 {
		return cur == "USD"
	}
	return slices.Contains(curs, cur)
}
