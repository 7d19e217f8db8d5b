package gavel

import (
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"
	"github.com/stretchr/testify/assert"
)

// TestMarkupKinds checks what a bid without mtype may be, from its markup
// (OpenRTB 2.6 §4.2.3 adm: "Optional means of conveying ad markup", which
// is VAST for video and audio and the native response for native).
func TestMarkupKinds(t *testing.T) {
	tests := []struct {
		name string
		adm  string
		want mediaKinds
	}{
		{"no markup: served on the win notice", "", kindAny},
		{"HTML", `<a href="https://x.example/"><img src="https://cdn.example/a.png"></a>`, kindBanner},
		{"a doctype", "<!DOCTYPE html><html><body></body></html>", kindBanner},
		{"a script", `document.write('<img src="https://cdn.example/a.png">')`, kindBanner},
		{"plain text", "x", kindBanner},
		{"VAST", `<VAST version="4.2"><Ad/></VAST>`, kindVideo | kindAudio},
		{"VAST, lower case", `<vast version="2.0"></vast>`, kindVideo | kindAudio},
		{"VAST after white space", " \r\n\t<VAST version=\"3.0\"/>", kindVideo | kindAudio},
		{"VAST after a BOM and a declaration", "\uFEFF<?xml version=\"1.0\"?>\n<VAST/>", kindVideo | kindAudio},
		{"VAST after comments", "<?xml version=\"1.0\"?><!-- a --><!-- b -->\n<VAST/>", kindVideo | kindAudio},
		{"DAAST", `<DAAST version="1.0"></DAAST>`, kindVideo | kindAudio},
		{"VMAP", `<vmap:VMAP xmlns:vmap="http://www.iab.net/videosuite/vmap" version="1.0"/>`, kindVideo | kindAudio},
		{"VAST inside HTML is HTML", `<div><script>var v = '<VAST version="4.0"/>'</script></div>`, kindBanner},
		{"other XML", `<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"/>`, kindBanner},
		{"an unterminated declaration", `<?xml version="1.0"`, kindBanner},
		{"an unterminated comment", `<!-- <VAST/>`, kindBanner},
		{"native JSON", `{"native":{"assets":[]}}`, kindNative},
		{"native JSON without the wrapper", ` {"ver":"1.2","assets":[],"link":{"url":"https://x.example/"}}`, kindNative},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, markupKinds(tt.adm), tt.name)
	}
}

// TestBidKinds checks the media objects of an imp that a bid may be for:
// its mtype's, or what its markup may be among those the imp offers.
func TestBidKinds(t *testing.T) {
	banner := &openrtb2.Banner{}
	video := &openrtb2.Video{MIMEs: []string{"video/mp4"}}
	audio := &openrtb2.Audio{MIMEs: []string{"audio/mp4"}}
	native := &openrtb2.Native{Request: "{}"}
	all := &openrtb2.Imp{Banner: banner, Video: video, Audio: audio, Native: native}
	tests := []struct {
		name string
		imp  *openrtb2.Imp
		bid  openrtb2.Bid
		want mediaKinds
	}{
		{"mtype banner", all, openrtb2.Bid{MType: openrtb2.MarkupBanner, AdM: "<VAST/>"}, kindBanner},
		{"mtype video", all, openrtb2.Bid{MType: openrtb2.MarkupVideo}, kindVideo},
		{"mtype audio", all, openrtb2.Bid{MType: openrtb2.MarkupAudio}, kindAudio},
		{"mtype native", all, openrtb2.Bid{MType: openrtb2.MarkupNative}, kindNative},
		{"mtype not offered", &openrtb2.Imp{Video: video}, openrtb2.Bid{MType: openrtb2.MarkupBanner}, 0},
		{"mtype out of range", all, openrtb2.Bid{MType: 5}, 0},
		{"negative mtype", all, openrtb2.Bid{MType: -1}, 0},
		{"VAST on video and audio", all, openrtb2.Bid{AdM: "<VAST/>"}, kindVideo | kindAudio},
		{"VAST on audio only", &openrtb2.Imp{Audio: audio}, openrtb2.Bid{AdM: "<VAST/>"}, kindAudio},
		{"VAST on banner only", &openrtb2.Imp{Banner: banner}, openrtb2.Bid{AdM: "<VAST/>"}, 0},
		{"HTML on video only", &openrtb2.Imp{Video: video}, openrtb2.Bid{AdM: "<div/>"}, 0},
		{"no markup on video only", &openrtb2.Imp{Video: video}, openrtb2.Bid{NURL: "https://n"}, kindVideo},
		{"no markup on all", all, openrtb2.Bid{NURL: "https://n"}, kindAny},
		{"JSON on native and banner", &openrtb2.Imp{Banner: banner, Native: native}, openrtb2.Bid{AdM: "{}"}, kindNative},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, bidKinds(tt.imp, &tt.bid), tt.name)
	}
}
