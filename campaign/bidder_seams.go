package campaign

import "github.com/prebid/openrtb/v20/openrtb2"

// clickURL is the URL the markup's ClickMacro becomes: the landing page.
func (b *Bidder) clickURL(_ *openrtb2.BidRequest, _ *openrtb2.Imp, _ *Campaign, cr *Creative, _ int64) string {
	return cr.Landing
}
