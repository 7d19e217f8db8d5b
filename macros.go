package gavel

import (
	"fmt"

	"github.com/prebid/openrtb/v20/openrtb3"
)

// MacroValues placeholder until macros land.
type MacroValues struct {
	AuctionID  string
	BidID      string
	ImpID      string
	SeatID     string
	AdID       string
	Price      int64
	BidPrice   int64
	Currency   string
	Loss       openrtb3.LossReason
	MinToWin   int64
	Multiplier float64
	ImpTS      int64
}

// ExpandMacros placeholder.
func ExpandMacros(s string, v *MacroValues) string { return s }

// FormatMicros placeholder.
func FormatMicros(m int64) string { return fmt.Sprint(float64(m) / 1e6) }
