package campaign

import "github.com/prebid/openrtb/v20/openrtb2"

// WithClickURL sets how the Bidder makes the click URL that ClickMacro
// becomes in a creative's markup, for example a Tracker's ClickURL. An
// empty URL falls back to the landing page. Default: the creative's
// landing page, untracked.
func WithClickURL(f func(ClickInfo) string) Option {
	return optionFunc(func(c *config) {
		if f == nil {
			c.fail("click url func must not be nil")
			return
		}
		c.clickURL = f
	})
}

// clickURL is the URL the markup's ClickMacro becomes.
func (b *Bidder) clickURL(req *openrtb2.BidRequest, imp *openrtb2.Imp, bidID string, c *Campaign, cr *Creative, price int64) string {
	if b.cfg.clickURL == nil {
		return cr.Landing
	}
	u := b.cfg.clickURL(ClickInfo{
		AuctionID: req.ID, ImpID: imp.ID, BidID: bidID, CampaignID: c.ID, CreativeID: cr.ID,
		Account: c.Account, PriceMicros: price, Currency: b.cfg.currency, Landing: cr.Landing,
	})
	if u == "" {
		return cr.Landing
	}
	return u
}
