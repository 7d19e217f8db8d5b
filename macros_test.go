package gavel

import (
	"encoding/base64"
	"math"
	"strings"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testValues has every value known.
func testValues() *MacroValues {
	return &MacroValues{
		AuctionID:  "req-1",
		BidID:      "resp-7",
		ImpID:      "imp-2",
		SeatID:     "seat-9",
		AdID:       "ad-42",
		Price:      1_500_000,
		BidPrice:   2_000_000,
		Currency:   "USD",
		Loss:       openrtb3.LossLostToHigherBid,
		MinToWin:   1_250_000,
		Multiplier: 2.5,
		ImpTS:      1_700_000_000_123,
	}
}

func b64(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }

func TestExpandMacros(t *testing.T) {
	tests := []struct {
		name string
		in   string
		edit func(*MacroValues) // changes testValues before expanding
		want string
	}{
		{"no macros", "https://win.example/n?x=1", nil, "https://win.example/n?x=1"},
		{"empty", "", nil, ""},
		{"auction id", "${AUCTION_ID}", nil, "req-1"},
		{"bid id", "${AUCTION_BID_ID}", nil, "resp-7"},
		{"imp id", "${AUCTION_IMP_ID}", nil, "imp-2"},
		{"seat id", "${AUCTION_SEAT_ID}", nil, "seat-9"},
		{"ad id", "${AUCTION_AD_ID}", nil, "ad-42"},
		{"price", "p=${AUCTION_PRICE}", nil, "p=1.5"},
		{"currency", "${AUCTION_CURRENCY}", nil, "USD"},
		{"mbr", "${AUCTION_MBR}", nil, "0.75"},
		{"loss", "${AUCTION_LOSS}", nil, "102"},
		{"loss won", "${AUCTION_LOSS}", func(v *MacroValues) { v.Loss = openrtb3.LossWon }, "0"},
		{"min to win", "${AUCTION_MIN_TO_WIN}", nil, "1.25"},
		{"min to win zero is known", "${AUCTION_MIN_TO_WIN}", func(v *MacroValues) { v.MinToWin = 0 }, "0"},
		{"multiplier", "${AUCTION_MULTIPLIER}", nil, "2.5"},
		{"multiplier below one", "${AUCTION_MULTIPLIER}", func(v *MacroValues) { v.Multiplier = 0.25 }, "0.25"},
		{"imp ts", "${AUCTION_IMP_TS}", nil, "1700000000123"},
		{"zero price", "${AUCTION_PRICE}", func(v *MacroValues) { v.Price = 0 }, "0"},
		{"sub-cent price", "${AUCTION_PRICE}", func(v *MacroValues) { v.Price = 1 }, "0.000001"},
		{"mbr of a win at own price", "${AUCTION_MBR}", func(v *MacroValues) { v.Price = v.BidPrice }, "1"},

		{"b64 price", "${AUCTION_PRICE:B64}", nil, "MS41"},
		{"b64 id", "${AUCTION_ID:B64}", nil, b64("req-1")},
		{"b64 url-safe alphabet", "${AUCTION_SEAT_ID:B64}", func(v *MacroValues) { v.SeatID = "\xfb\xff\xbf" }, "-_-_"},
		{"b64 long id spans chunks", "${AUCTION_AD_ID:B64}", func(v *MacroValues) { v.AdID = strings.Repeat("abcdefg", 30) },
			b64(strings.Repeat("abcdefg", 30))},
		{"b64 empty id", "[${AUCTION_AD_ID:B64}]", func(v *MacroValues) { v.AdID = "" }, "[]"},
		{"b64 mbr", "${AUCTION_MBR:B64}", nil, b64("0.75")},
		// OpenRTB 2.6 §4.4: a macro without a value is replaced with a
		// zero-length string, encoded or not.
		{"b64 value removed", "[${AUCTION_IMP_TS:B64}]", func(v *MacroValues) { v.ImpTS = 0 }, "[]"},
		{"b64 value kept for later", "${AUCTION_IMP_TS:B64}", func(v *MacroValues) { v.ImpTS, v.KeepImpTS = 0, true }, "${AUCTION_IMP_TS:B64}"},
		{"other encoding kept", "${AUCTION_PRICE:XOR}", nil, "${AUCTION_PRICE:XOR}"},
		{"lower-case encoding kept", "${AUCTION_PRICE:b64}", nil, "${AUCTION_PRICE:b64}"},
		{"empty encoding kept", "${AUCTION_PRICE:}", nil, "${AUCTION_PRICE:}"},

		{"unknown name", "a${FOO}b", nil, "a${FOO}b"},
		{"lower-case name", "${auction_id}", nil, "${auction_id}"},
		{"spec typo with space", "${AUCTION PRICE:B64}", nil, "${AUCTION PRICE:B64}"},
		{"discount macro is not ours", "${AUCTION_DISCOUNT_CPM}", nil, "${AUCTION_DISCOUNT_CPM}"},
		{"unterminated", "x=${AUCTION_", nil, "x=${AUCTION_"},
		{"unterminated after a macro", "${AUCTION_ID}&${AUCTION_PRICE", nil, "req-1&${AUCTION_PRICE"},
		{"lone dollar and brace", "$ { } ${ $}", nil, "$ { } ${ $}"},
		{"empty braces", "${}", nil, "${}"},
		{"brace too far away", "${AUCTION_ID                       }", nil, "${AUCTION_ID                       }"},
		{"nested", "${${AUCTION_ID}}", nil, "${req-1}"},
		{"unknown then macro", "${FOO${AUCTION_ID}", nil, "${FOOreq-1"},
		{"double dollar", "$${AUCTION_ID}", nil, "$req-1"},
		{"adjacent", "${AUCTION_ID}${AUCTION_IMP_ID}${AUCTION_PRICE}", nil, "req-1imp-21.5"},
		{"repeated", "${AUCTION_ID}-${AUCTION_ID}", nil, "req-1-req-1"},
		{"special characters verbatim", "id=${AUCTION_ID}", func(v *MacroValues) { v.AuctionID = "a&b=c d/é<>\"" },
			"id=a&b=c d/é<>\""},
		{"value not rescanned", "${AUCTION_ID}", func(v *MacroValues) { v.AuctionID = "${AUCTION_PRICE}" }, "${AUCTION_PRICE}"},
		{"empty id substituted", "[${AUCTION_BID_ID}]", func(v *MacroValues) { v.BidID = "" }, "[]"},

		// OpenRTB 2.6 §4.4: "if the source value is an optional parameter
		// that was not specified, the macro will simply be removed (i.e.,
		// replaced with a zero-length string)"; never left as a literal.
		{"no min to win", "m=${AUCTION_MIN_TO_WIN}", func(v *MacroValues) { v.MinToWin = -1 }, "m="},
		{"no multiplier", "${AUCTION_MULTIPLIER}", func(v *MacroValues) { v.Multiplier = 0 }, ""},
		{"no imp ts", "${AUCTION_IMP_TS}", func(v *MacroValues) { v.ImpTS = 0 }, ""},
		{"no mbr", "${AUCTION_MBR}", func(v *MacroValues) { v.BidPrice = 0 }, ""},
		{"no mbr, negative bid", "${AUCTION_MBR}", func(v *MacroValues) { v.BidPrice = -5 }, ""},
		// §4.4.1: a loser's ${AUCTION_PRICE} is the empty string.
		{"no price", "p=${AUCTION_PRICE}&r=${AUCTION_LOSS}", func(v *MacroValues) { v.Price = -1 }, "p=&r=102"},
		{"no price, no mbr", "${AUCTION_MBR}", func(v *MacroValues) { v.Price = -1 }, ""},
		{"no imp ts removed, known replaced", "${AUCTION_IMP_TS}/${AUCTION_PRICE}", func(v *MacroValues) { v.ImpTS = 0 }, "/1.5"},
		// ${AUCTION_IMP_TS} is known only at billing: KeepImpTS leaves it.
		{"imp ts kept for later", "${AUCTION_IMP_TS}/${AUCTION_PRICE}", func(v *MacroValues) { v.ImpTS, v.KeepImpTS = 0, true },
			"${AUCTION_IMP_TS}/1.5"},
		{"known imp ts replaced despite KeepImpTS", "${AUCTION_IMP_TS}", func(v *MacroValues) { v.KeepImpTS = true }, "1700000000123"},
		{"only imp ts is kept", "${AUCTION_MIN_TO_WIN}${AUCTION_MULTIPLIER}", func(v *MacroValues) {
			v.MinToWin, v.Multiplier, v.KeepImpTS = -1, 0, true
		}, ""},

		{"realistic nurl",
			"https://win.example/n?a=${AUCTION_ID}&p=${AUCTION_PRICE}&c=${AUCTION_CURRENCY}&i=${AUCTION_IMP_ID}&m=${AUCTION_MIN_TO_WIN}",
			nil, "https://win.example/n?a=req-1&p=1.5&c=USD&i=imp-2&m=1.25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := testValues()
			if tt.edit != nil {
				tt.edit(v)
			}
			assert.Equal(t, tt.want, ExpandMacros(tt.in, v))
			assert.Equal(t, "pre:"+tt.want, string(AppendMacros([]byte("pre:"), tt.in, v)))
		})
	}
}

func TestExpandMacrosNilValues(t *testing.T) {
	s := "${AUCTION_ID}&${AUCTION_PRICE:B64}"
	assert.Equal(t, s, ExpandMacros(s, nil))
	assert.Equal(t, s, string(AppendMacros(nil, s, nil)))
}

func TestExpandMacrosLong(t *testing.T) {
	// Longer than ExpandMacros' stack buffer.
	in := strings.Repeat("x=${AUCTION_ID:B64}&", 100)
	want := strings.Repeat("x="+b64("req-1")+"&", 100)
	assert.Equal(t, want, ExpandMacros(in, testValues()))
}

func TestFormatMicros(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0"},
		{1, "0.000001"},
		{10, "0.00001"},
		{999_999, "0.999999"},
		{1_000_000, "1"},
		{1_500_000, "1.5"},
		{2_000_000, "2"},
		{1_234_567, "1.234567"},
		{12_340_000, "12.34"},
		{-1, "-0.000001"},
		{-2_500_000, "-2.5"},
		{math.MaxInt64, "9223372036854.775807"},
		{math.MinInt64, "-9223372036854.775808"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, FormatMicros(tt.in), "micros %d", tt.in)
		assert.Equal(t, "$"+tt.want, string(AppendMicros([]byte("$"), tt.in)), "micros %d", tt.in)
	}
}

func TestMacroAllocs(t *testing.T) {
	v := testValues()
	plain := "https://win.example/n?a=1&b=2"
	nurl := "https://win.example/n?a=${AUCTION_ID}&p=${AUCTION_PRICE}&m=${AUCTION_MBR}&t=${AUCTION_IMP_TS}"
	b64s := "x=${AUCTION_PRICE:B64}&y=" + "${AUCTION_AD_ID:B64}"
	long := strings.Repeat("x=${AUCTION_ID:B64}&", 100)
	v.AdID = strings.Repeat("creative-", 20) // several B64 chunks

	var out string
	assert.Zero(t, testing.AllocsPerRun(100, func() { out = ExpandMacros(plain, v) }), "no macros")
	assert.Equal(t, plain, out)
	assert.Zero(t, testing.AllocsPerRun(100, func() { out = ExpandMacros("${FOO}", v) }), "nothing replaced")
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { out = ExpandMacros(nurl, v) }), "macros")
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { out = ExpandMacros(b64s, v) }), "b64")
	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() { out = ExpandMacros(long, v) }), 2.0, "long")

	buf := make([]byte, 0, 4096)
	for _, s := range []string{plain, nurl, b64s, long} {
		assert.Zero(t, testing.AllocsPerRun(100, func() { buf = AppendMacros(buf[:0], s, v) }), "append %.20q", s)
	}
	assert.Zero(t, testing.AllocsPerRun(100, func() { buf = AppendMicros(buf[:0], -1_234_567) }), "micros")
}

// FuzzExpandMacros checks ExpandMacros and AppendMacros against each other
// and against a naive reference built on strings.Replacer.
func FuzzExpandMacros(f *testing.F) {
	f.Add("https://win.example/n?a=${AUCTION_ID}&p=${AUCTION_PRICE}", "req-1", int64(1_500_000), int64(-1), 0.0)
	f.Add("${AUCTION_MBR}${AUCTION_MIN_TO_WIN:B64}${AUCTION_IMP_TS}", "", int64(1), int64(0), 1.5)
	f.Add("${${AUCTION_ID}}${FOO}${AUCTION_", "${AUCTION_PRICE}", int64(-7), int64(3), -2.0)
	f.Add("plain text, no macros at all", "x", int64(0), int64(5), 0.5)
	f.Add("$${AUCTION_ID:B64}${AUCTION_MULTIPLIER:B64}}", "é&=", int64(math.MaxInt64), int64(math.MinInt64), 1e-9)
	f.Fuzz(func(t *testing.T, s, id string, price, minToWin int64, mult float64) {
		v := &MacroValues{AuctionID: id, BidID: id + "b", ImpID: id + "i", SeatID: "s", AdID: id,
			Price: price, BidPrice: price / 3, Currency: "EUR", Loss: openrtb3.LossReason(price % 1000),
			MinToWin: minToWin, Multiplier: mult, ImpTS: minToWin / 7, KeepImpTS: mult > 1}
		got := ExpandMacros(s, v)
		if !strings.Contains(s, "${") {
			require.Equal(t, s, got)
		}
		require.Equal(t, s, ExpandMacros(s, nil))
		require.Equal(t, "<"+got, string(AppendMacros([]byte("<"), s, v)))
		require.Equal(t, referenceExpand(s, v), got)
	})
}

// referenceExpand expands s by replacing each macro spelled out in full.
func referenceExpand(s string, v *MacroValues) string {
	var pairs []string
	for _, name := range []string{"AUCTION_ID", "AUCTION_BID_ID", "AUCTION_IMP_ID", "AUCTION_SEAT_ID",
		"AUCTION_AD_ID", "AUCTION_PRICE", "AUCTION_CURRENCY", "AUCTION_MBR", "AUCTION_LOSS",
		"AUCTION_MIN_TO_WIN", "AUCTION_MULTIPLIER", "AUCTION_IMP_TS"} {
		// ExpandMacros on the bare macro is checked by TestExpandMacros.
		val := ExpandMacros("${"+name+"}", v)
		if val != "${"+name+"}" {
			pairs = append(pairs, "${"+name+"}", val, "${"+name+":B64}", b64(val))
		}
	}
	return strings.NewReplacer(pairs...).Replace(s)
}

func BenchmarkExpandMacros(b *testing.B) {
	const nurl = "https://win.example/n?a=${AUCTION_ID}&p=${AUCTION_PRICE}&c=${AUCTION_CURRENCY}&i=${AUCTION_IMP_ID}&m=${AUCTION_MIN_TO_WIN}"
	v := &MacroValues{AuctionID: "80ce30c53c16e6ede735f123ef6e32361bfc7b22", ImpID: "1",
		Price: 2_345_000, BidPrice: 3_000_000, Currency: "USD", MinToWin: 2_340_000}
	const want = "https://win.example/n?a=80ce30c53c16e6ede735f123ef6e32361bfc7b22&p=2.345&c=USD&i=1&m=2.34"
	require.Equal(b, want, ExpandMacros(nurl, v))

	b.Run("Expand", func(b *testing.B) {
		b.ReportAllocs()
		var out string
		for b.Loop() {
			out = ExpandMacros(nurl, v)
		}
		require.Equal(b, want, out)
	})
	b.Run("Append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 256)
		for b.Loop() {
			buf = AppendMacros(buf[:0], nurl, v)
		}
		require.Equal(b, want, string(buf))
	})
}
