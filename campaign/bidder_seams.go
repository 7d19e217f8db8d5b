package campaign

import (
	"context"
	"time"

	"github.com/prebid/openrtb/v20/openrtb2"
)

// capFrequency marks the candidates at a frequency cap. Frequency caps
// arrive with the FrequencyStore.
func (b *Bidder) capFrequency(context.Context, *probe, time.Time) {}

// clickURL is the URL the markup's ClickMacro becomes: the landing page.
func (b *Bidder) clickURL(_ *openrtb2.BidRequest, _ *openrtb2.Imp, _ *Campaign, cr *Creative, _ int64) string {
	return cr.Landing
}
