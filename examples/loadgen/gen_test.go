package main

import (
	"encoding/json"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMakeIsDeterministic(t *testing.T) {
	g := Generator{Seed: 7, Invalid: 0.2, TMax: 150, Users: 100}
	for n := range uint64(200) {
		a, ea := g.Make(n)
		b, eb := g.Make(n)
		require.Equal(t, a, b, "request %d", n)
		require.Equal(t, ea, eb, "request %d", n)
	}
	other := Generator{Seed: 8, Invalid: 0.2, TMax: 150, Users: 100}
	same := 0
	for n := range uint64(200) {
		a, _ := g.Make(n)
		b, _ := other.Make(n)
		if string(a[len(`{"id":"lg-7-0"`):]) == string(b[len(`{"id":"lg-8-0"`):]) {
			same++
		}
	}
	assert.Less(t, same, 10, "another seed makes other requests")
}

// mix counts what a run of generated requests holds.
type mix struct {
	invalid              map[string]int
	banners, videos      int
	sizes                map[[2]int64]int
	sites, apps          int
	users, usersWithData int
	deals, floors        int
	countries, devices   map[string]int
	impCounts            map[int]int
}

func countMix(t *testing.T, g Generator, n uint64) mix {
	m := mix{invalid: map[string]int{}, sizes: map[[2]int64]int{}, countries: map[string]int{}, devices: map[string]int{}, impCounts: map[int]int{}}
	for i := range n {
		body, exp := g.Make(i)
		if exp.Invalid != "" {
			m.invalid[exp.Invalid]++
			continue
		}
		var req openrtb2.BidRequest
		require.NoError(t, json.Unmarshal(body, &req), "request %d", i)
		require.Equal(t, exp.ID, req.ID)
		require.Equal(t, g.TMax, req.TMax)
		m.add(&req)
	}
	return m
}

func (m *mix) add(req *openrtb2.BidRequest) {
	m.impCounts[len(req.Imp)]++
	for _, imp := range req.Imp {
		if imp.Banner != nil {
			m.banners++
			m.sizes[[2]int64{*imp.Banner.W, *imp.Banner.H}]++
		}
		if imp.Video != nil {
			m.videos++
		}
		if imp.PMP != nil {
			m.deals++
		}
		if imp.BidFloor > 0 {
			m.floors++
		}
	}
	if req.Site != nil {
		m.sites++
	}
	if req.App != nil {
		m.apps++
	}
	if req.User != nil {
		m.users++
		if len(req.User.Data) > 0 {
			m.usersWithData++
		}
	}
	m.countries[req.Device.Geo.Country]++
	m.devices[req.Device.OS]++
}

func TestMakeVariesTheRequests(t *testing.T) {
	const n = 4000
	m := countMix(t, Generator{Seed: 1, Invalid: 0.05, TMax: 200, Users: 1000}, n)

	invalid := 0
	for _, c := range m.invalid {
		invalid += c
	}
	assert.InDelta(t, 0.05, float64(invalid)/n, 0.015, "share of invalid requests")
	assert.Len(t, m.invalid, len(invalidKinds), "every kind of invalid request: %v", m.invalid)

	valid := n - invalid
	imps := m.banners + m.videos
	assert.InDelta(t, 0.25, float64(m.videos)/float64(imps), 0.05, "a quarter of the imps are video")
	assert.Len(t, m.sizes, len(bannerSizes), "every banner size")
	assert.Len(t, m.impCounts, 3, "one to three imps")
	assert.InDelta(t, 1.0/3, float64(m.apps)/float64(valid), 0.05, "a third are apps")
	assert.Equal(t, valid, m.sites+m.apps, "each request is a site or an app")
	assert.InDelta(t, 0.8, float64(m.users)/float64(valid), 0.05, "four in five have a user")
	assert.Positive(t, m.usersWithData)
	assert.InDelta(t, 0.1, float64(m.deals)/float64(imps), 0.03, "one imp in ten has a deal")
	assert.Greater(t, m.floors, imps/2, "most imps have a floor")
	assert.Len(t, m.countries, len(countries))
	assert.Len(t, m.devices, len(oses))
}

func TestMakeWithoutInvalidOrUsers(t *testing.T) {
	m := countMix(t, Generator{Seed: 3}, 500)
	assert.Empty(t, m.invalid)
	assert.Zero(t, m.users)
}
