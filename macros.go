package gavel

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/prebid/openrtb/v20/openrtb3"
)

// MacroValues holds the values substituted for the auction macros of one bid
// (OpenRTB 2.6 §4.4). String values are inserted verbatim: like the spec's
// "simple" substitution, nothing is URL- or HTML-escaped, so an empty ID is
// substituted as an empty string. Numeric fields document which value means
// that there is none; a macro without a value is removed (§4.4: "replaced
// with a zero-length string"), except ${AUCTION_IMP_TS} while KeepImpTS is
// set.
type MacroValues struct {
	AuctionID string // ${AUCTION_ID}: the bid request id
	BidID     string // ${AUCTION_BID_ID}: the bid response's bidid
	ImpID     string // ${AUCTION_IMP_ID}: the id of the impression the bid is for
	SeatID    string // ${AUCTION_SEAT_ID}: the seat the bid was made for
	AdID      string // ${AUCTION_AD_ID}: the bid's adid
	// Price is the clearing price in integer micros of CPM, in the bid's
	// currency, for ${AUCTION_PRICE}. Negative means none: a bid that lost
	// has no clearing price, and its ${AUCTION_PRICE} is the empty string
	// (§4.4.1).
	Price int64
	// BidPrice is the bid's own price in micros of CPM. Together with Price
	// it gives ${AUCTION_MBR}, the market bid ratio Price/BidPrice, which
	// has no value while Price < 0 or BidPrice <= 0.
	BidPrice int64
	Currency string // ${AUCTION_CURRENCY}: the bid's currency, e.g. "USD"
	// Loss is the OpenRTB 3.0 loss reason code for ${AUCTION_LOSS};
	// 0 (openrtb3.LossWon) means the bid won.
	Loss openrtb3.LossReason
	// MinToWin is the price in micros of CPM, in the bid's currency, that
	// ${AUCTION_MIN_TO_WIN} reports (§4.4.1): for the winner, what ties the
	// next bid or the floor; for a bid that lost on price, what ties the
	// winner. Negative means none: withheld, or price did not decide.
	MinToWin int64
	// Multiplier is the quantity of impressions won (DOOH
	// imp.qty.multiplier) for ${AUCTION_MULTIPLIER}; 0 means none.
	Multiplier float64
	// ImpTS is when the impression was fulfilled, in Unix milliseconds, for
	// ${AUCTION_IMP_TS}; 0 means not known.
	ImpTS int64
	// KeepImpTS leaves ${AUCTION_IMP_TS} in place while ImpTS is 0, for the
	// stage that learns when the impression happened (the billing notice)
	// to fill in, rather than removing it.
	KeepImpTS bool
}

// macroB64 encodes the values of macros written with the ":B64" suffix, as
// in ${AUCTION_PRICE:B64}. OpenRTB 2.6 §4.4 only gives "B64" as an example of
// an encoding code and leaves the algorithm, and so the alphabet and padding,
// to agreement between exchange and bidder. Since macros mostly end up in
// URLs, gavel uses the URL- and filename-safe alphabet of RFC 4648 §5, so
// that no '+' or '/' appears in a query string, and keeps the '=' padding
// that RFC 4648 §3.2 requires unless a referring spec says otherwise.
var macroB64 = base64.URLEncoding

// longestMacro is the length of the longest text that may stand between
// "${" and "}"; the scan never looks further than this for the closing brace.
const longestMacro = len("AUCTION_MIN_TO_WIN:B64")

// ExpandMacros returns s with every auction macro replaced by its value
// from v, following OpenRTB 2.6 §4.4: ${AUCTION_ID}, ${AUCTION_BID_ID},
// ${AUCTION_IMP_ID}, ${AUCTION_SEAT_ID}, ${AUCTION_AD_ID}, ${AUCTION_PRICE},
// ${AUCTION_CURRENCY}, ${AUCTION_MBR}, ${AUCTION_LOSS},
// ${AUCTION_MIN_TO_WIN}, ${AUCTION_MULTIPLIER} and ${AUCTION_IMP_TS}. Any of
// them may carry the suffix ":B64" (${AUCTION_PRICE:B64}) to have its value
// base64-encoded with the URL-safe alphabet of RFC 4648 §5, padded with '='
// (the spec leaves the algorithm to the parties; "1.5" becomes "MS41").
//
// A macro without a value (see MacroValues) is removed, as the spec says,
// never left as a literal: a loser's ${AUCTION_PRICE}, an unknown
// ${AUCTION_MIN_TO_WIN}. The one exception is ${AUCTION_IMP_TS} with
// v.KeepImpTS set, left for a later stage, such as the billing notice, to
// fill in. Names that are not auction macros (${FOO}), other encodings
// (${AUCTION_PRICE:XYZ}), unterminated macros and a nil v leave the text as
// it is. Substituted values are not scanned again for macros.
//
// If nothing was replaced, ExpandMacros returns s itself; when s contains no
// "${" at all, it does so without allocating.
func ExpandMacros(s string, v *MacroValues) string {
	i := strings.Index(s, "${")
	if i < 0 {
		return s
	}
	// Expand into a stack buffer when the result is likely to fit, so that
	// the only allocation is the returned string.
	var stack [512]byte
	buf := stack[:0]
	if n := len(s) + len(s)/2 + 64; n > len(stack) {
		buf = make([]byte, 0, n)
	}
	buf = AppendMacros(append(buf, s[:i]...), s[i:], v)
	if string(buf) == s {
		return s
	}
	return string(buf)
}

// AppendMacros appends s, expanded as by ExpandMacros, to dst and returns
// the extended buffer. It does not allocate when dst has enough capacity.
func AppendMacros(dst []byte, s string, v *MacroValues) []byte {
	var tmp [64]byte // holds a formatted number
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		s = s[i:]

		// Find the closing brace, and a colon before it, within reach.
		end, colon := -1, -1
		for j := 2; j < len(s) && j <= 2+longestMacro; j++ {
			if s[j] == '}' {
				end = j
				break
			}
			if s[j] == ':' && colon < 0 {
				colon = j
			}
		}
		name, b64 := "", false
		switch {
		case end < 0:
			// Not terminated within reach: not a macro.
		case colon < 0:
			name = s[2:end]
		case s[colon+1:end] == "B64":
			name, b64 = s[2:colon], true
		}
		str, num, ok := v.value(name, tmp[:0])
		if !ok {
			// Not a macro, or one left for later: copy "${" and rescan
			// after it, which also finds a macro nested in the text.
			dst = append(dst, "${"...)
			s = s[2:]
			continue
		}
		if b64 {
			// Only one of str and num is ever non-empty.
			dst = appendBase64(appendBase64(dst, str), num)
		} else {
			dst = append(append(dst, str...), num...)
		}
		s = s[end+1:]
	}
}

// value returns the value of the macro called name: a string value as str,
// or a number formatted into buf as num; a macro without a value has both
// empty. ok is false for a name that is not an auction macro and for a
// value left for a later stage.
func (v *MacroValues) value(name string, buf []byte) (str string, num []byte, ok bool) {
	if v == nil {
		return "", nil, false
	}
	if str, ok := v.text(name); ok {
		return str, nil, true
	}
	num, ok = v.number(name, buf)
	return "", num, ok
}

// text returns the value of a macro whose value is a string.
func (v *MacroValues) text(name string) (string, bool) {
	switch name {
	case "AUCTION_ID":
		return v.AuctionID, true
	case "AUCTION_BID_ID":
		return v.BidID, true
	case "AUCTION_IMP_ID":
		return v.ImpID, true
	case "AUCTION_SEAT_ID":
		return v.SeatID, true
	case "AUCTION_AD_ID":
		return v.AdID, true
	case "AUCTION_CURRENCY":
		return v.Currency, true
	}
	return "", false
}

// number formats into buf the value of a macro whose value is a number,
// nothing when it has none. It reports false for a name that is not a
// numeric auction macro, and for ${AUCTION_IMP_TS} kept for later.
func (v *MacroValues) number(name string, buf []byte) ([]byte, bool) {
	switch name {
	case "AUCTION_PRICE":
		if v.Price >= 0 {
			return AppendMicros(buf, v.Price), true
		}
	case "AUCTION_LOSS":
		return strconv.AppendInt(buf, int64(v.Loss), 10), true
	case "AUCTION_MBR":
		if v.Price >= 0 && v.BidPrice > 0 {
			return strconv.AppendFloat(buf, float64(v.Price)/float64(v.BidPrice), 'f', -1, 64), true
		}
	case "AUCTION_MIN_TO_WIN":
		if v.MinToWin >= 0 {
			return AppendMicros(buf, v.MinToWin), true
		}
	case "AUCTION_MULTIPLIER":
		if v.Multiplier != 0 {
			return strconv.AppendFloat(buf, v.Multiplier, 'f', -1, 64), true
		}
	case "AUCTION_IMP_TS":
		if v.ImpTS != 0 {
			return strconv.AppendInt(buf, v.ImpTS, 10), true
		}
		return nil, !v.KeepImpTS
	default:
		return nil, false
	}
	return nil, true // a macro without a value: removed
}

// appendBase64 appends src encoded with macroB64 to dst. It encodes through
// a stack buffer whose size is a multiple of 3, so the pieces join up into
// the encoding of the whole and a string needs no conversion to []byte.
func appendBase64[T string | []byte](dst []byte, src T) []byte {
	var chunk [48]byte
	for len(src) > 0 {
		n := copy(chunk[:], src)
		dst = macroB64.AppendEncode(dst, chunk[:n])
		src = src[n:]
	}
	return dst
}

// FormatMicros formats an amount in integer micros as an exact decimal with
// no trailing zeros: 1500000 is "1.5", 2000000 is "2", 1 is "0.000001" and
// -2500000 is "-2.5".
func FormatMicros(micros int64) string {
	var buf [24]byte
	return string(AppendMicros(buf[:0], micros))
}

// AppendMicros appends FormatMicros(micros) to dst and returns the extended
// buffer.
func AppendMicros(dst []byte, micros int64) []byte {
	u := uint64(micros)
	if micros < 0 {
		dst = append(dst, '-')
		u = -u // exact for math.MinInt64 too, in unsigned arithmetic
	}
	dst = strconv.AppendUint(dst, u/1e6, 10)
	frac := u % 1e6
	if frac == 0 {
		return dst
	}
	digits := [7]byte{'.'}
	for i := 6; i > 0; i-- {
		digits[i] = '0' + byte(frac%10)
		frac /= 10
	}
	n := len(digits)
	for digits[n-1] == '0' {
		n--
	}
	return append(dst, digits[:n]...)
}
