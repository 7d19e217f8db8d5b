package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheck(t *testing.T) {
	valid := Expect{ID: "r1", ImpIDs: []string{"1", "2"}}
	withCur := Expect{ID: "r1", ImpIDs: []string{"1"}, Cur: []string{"USD", "EUR"}}
	invalid := Expect{ID: "r1", ImpIDs: []string{"1"}, Invalid: "no-imps"}
	good := `{"id":"r1","seatbid":[{"seat":"a","bid":[{"id":"b1","impid":"1","price":1.5},{"id":"b2","impid":"2","price":0.2}]}]}`
	for _, tc := range []struct {
		name   string
		exp    Expect
		status int
		body   string
		want   error // nil: the answer is right
	}{
		{"200 valid", valid, 200, good, nil},
		{"200 valid with cur", withCur, 200, `{"id":"r1","cur":"EUR","seatbid":[{"bid":[{"id":"b","impid":"1","price":1}]}]}`, nil},
		{"200 cur left out means USD", withCur, 200, `{"id":"r1","seatbid":[{"bid":[{"id":"b","impid":"1","price":1}]}]}`, nil},
		{"204", valid, 204, "", nil},
		{"400 to an invalid request", invalid, 400, `{"error":"no imps","nbr":2}`, nil},

		{"undecodable", valid, 200, `{"id":"r1","seatbid":[`, ErrBadResponse},
		{"not an object", valid, 200, `[1,2]`, ErrBadResponse},
		{"trailing data", valid, 200, good + ` {}`, ErrBadResponse},
		{"wrong id", valid, 200, `{"id":"r2","seatbid":[{"bid":[{"id":"b","impid":"1","price":1}]}]}`, ErrBadResponse},
		{"unknown impid", valid, 200, `{"id":"r1","seatbid":[{"bid":[{"id":"b","impid":"3","price":1}]}]}`, ErrBadResponse},
		{"impid of a later seat", valid, 200, `{"id":"r1","seatbid":[{"bid":[{"id":"b","impid":"1","price":1}]},{"bid":[{"id":"c","impid":"9","price":1}]}]}`, ErrBadResponse},
		{"zero price", valid, 200, `{"id":"r1","seatbid":[{"bid":[{"id":"b","impid":"1","price":0}]}]}`, ErrBadResponse},
		{"negative price", valid, 200, `{"id":"r1","seatbid":[{"bid":[{"id":"b","impid":"1","price":-1}]}]}`, ErrBadResponse},
		{"cur not allowed", withCur, 200, `{"id":"r1","cur":"GBP","seatbid":[{"bid":[{"id":"b","impid":"1","price":1}]}]}`, ErrBadResponse},
		{"cur other than USD when none asked", valid, 200, `{"id":"r1","cur":"EUR","seatbid":[{"bid":[{"id":"b","impid":"1","price":1}]}]}`, ErrBadResponse},
		{"200 with no bid", valid, 200, `{"id":"r1","seatbid":[]}`, ErrBadResponse},
		{"empty 200", valid, 200, ``, ErrBadResponse},

		{"500 to a valid request", valid, 500, ``, ErrWrongStatus},
		{"400 to a valid request", valid, 400, `{"error":"x"}`, ErrWrongStatus},
		{"200 to an invalid request", invalid, 200, good, ErrWrongStatus},
		{"204 to an invalid request", invalid, 204, ``, ErrWrongStatus},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.exp, tc.status, []byte(tc.body))
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			assert.NotEmpty(t, err.Error())
		})
	}
}

func TestShed(t *testing.T) {
	shed := http.Header{"Gavel-Shed": {"1"}, "Gavel-Nbr": {"1"}}
	ranNoBid := http.Header{"Gavel-Nbr": {"1"}}
	assert.True(t, Shed(204, shed))
	assert.True(t, Shed(503, http.Header{"Gavel-Shed": {"1"}, "Retry-After": {"1"}}))
	assert.False(t, Shed(503, nil), "a 503 that does not say it shed")
	assert.False(t, Shed(204, ranNoBid), "a 204 of an auction that ran")
	assert.False(t, Shed(204, nil))
	assert.False(t, Shed(200, shed))
	assert.False(t, Shed(400, nil))
}
