package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// Campaign is one line of demand: what the DSP pays for an impression
// (Price, CPM in USD), the creatives it can show, and whom it targets.
type Campaign struct {
	ID        string     `json:"id"`
	Price     float64    `json:"price"`
	Creatives []Creative `json:"creatives"`
	Targeting Targeting  `json:"targeting"`
}

// Creative is an ad a campaign can show. Its size is the banner size the
// campaign bids on: an imp is eligible when one of its sizes (banner.w/h
// or banner.format) equals the creative's.
type Creative struct {
	CrID    string   `json:"crid"`
	W       int64    `json:"w"`
	H       int64    `json:"h"`
	AdM     string   `json:"adm"`
	ADomain []string `json:"adomain"`
	Cat     []string `json:"cat"`
}

// Targeting restricts a campaign to some requests. An empty list places no
// restriction; a non-empty one must contain the request's value
// (device.geo.country, device.devicetype), or, for Segments, one of the
// segment ids in user.data[].segment.
type Targeting struct {
	Countries   []string            `json:"countries,omitempty"`
	DeviceTypes []adcom1.DeviceType `json:"device_types,omitempty"`
	Segments    []string            `json:"segments,omitempty"`
}

// loadCampaigns reads and validates a campaign file: a JSON array of
// campaigns. Unknown fields are refused, and every problem is reported.
func loadCampaigns(path string) ([]Campaign, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseCampaigns(data)
}

func parseCampaigns(data []byte) ([]Campaign, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var cs []Campaign
	if err := dec.Decode(&cs); err != nil {
		return nil, fmt.Errorf("dsp: campaigns: %w", err)
	}
	if dec.More() {
		return nil, errors.New("dsp: campaigns: trailing data after the array")
	}
	return cs, validateCampaigns(cs)
}

func validateCampaigns(cs []Campaign) error {
	var errs []error
	if len(cs) == 0 {
		errs = append(errs, errors.New("dsp: campaigns: none"))
	}
	seen := make(map[string]bool, len(cs))
	for i, c := range cs {
		if c.ID == "" || seen[c.ID] {
			errs = append(errs, fmt.Errorf("dsp: campaign %d: id %q is empty or repeated", i, c.ID))
		}
		seen[c.ID] = true
		if c.Price <= 0 {
			errs = append(errs, fmt.Errorf("dsp: campaign %q: price %v is not positive", c.ID, c.Price))
		}
		if len(c.Creatives) == 0 {
			errs = append(errs, fmt.Errorf("dsp: campaign %q: no creatives", c.ID))
		}
		for j, cr := range c.Creatives {
			if cr.CrID == "" || cr.W <= 0 || cr.H <= 0 || cr.AdM == "" {
				errs = append(errs, fmt.Errorf("dsp: campaign %q: creative %d needs crid, w, h and adm", c.ID, j))
			}
		}
	}
	return errors.Join(errs...)
}

// matches reports whether c targets the request's user and device.
func (c *Campaign) matches(req *openrtb2.BidRequest) bool {
	t := &c.Targeting
	if len(t.Countries) > 0 && !slices.Contains(t.Countries, country(req)) {
		return false
	}
	if len(t.DeviceTypes) > 0 && (req.Device == nil || !slices.Contains(t.DeviceTypes, req.Device.DeviceType)) {
		return false
	}
	return len(t.Segments) == 0 || hasSegment(req.User, t.Segments)
}

// creativeFor returns the first creative of c that fits the banner of imp,
// or nil.
func (c *Campaign) creativeFor(imp *openrtb2.Imp) *Creative {
	if imp.Banner == nil {
		return nil
	}
	for i := range c.Creatives {
		if fits(imp.Banner, c.Creatives[i].W, c.Creatives[i].H) {
			return &c.Creatives[i]
		}
	}
	return nil
}

func fits(b *openrtb2.Banner, w, h int64) bool {
	if b.W != nil && b.H != nil && *b.W == w && *b.H == h {
		return true
	}
	for _, f := range b.Format {
		if f.W == w && f.H == h {
			return true
		}
	}
	return false
}

func country(req *openrtb2.BidRequest) string {
	if req.Device == nil || req.Device.Geo == nil {
		return ""
	}
	return req.Device.Geo.Country
}

func hasSegment(u *openrtb2.User, want []string) bool {
	if u == nil {
		return false
	}
	for _, d := range u.Data {
		for _, s := range d.Segment {
			if slices.Contains(want, s.ID) {
				return true
			}
		}
	}
	return false
}

// pick returns the campaign and creative that bid on imp: the highest
// priced campaign that targets req, has a creative of the imp's size and
// meets its floor; ties go to the campaign earlier in the file. It returns
// nil when none does. The floor is taken as USD, the only currency the
// demo bids in.
func pick(cs []Campaign, req *openrtb2.BidRequest, imp *openrtb2.Imp) (*Campaign, *Creative) {
	var best *Campaign
	var bestCr *Creative
	for i := range cs {
		c := &cs[i]
		if c.Price < imp.BidFloor || (best != nil && c.Price <= best.Price) || !c.matches(req) {
			continue
		}
		if cr := c.creativeFor(imp); cr != nil {
			best, bestCr = c, cr
		}
	}
	return best, bestCr
}
