package gavel

import (
	"strings"

	"github.com/prebid/openrtb/v20/adcom1"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// Media types. An imp offers its impression as a banner, a video, an audio
// or a native ad, or as several of them, by the media objects it has; a bid
// must be for one of them (OpenRTB 2.6 §3.2.4). The bid says which with its
// mtype (§4.2.3); a bid without mtype is held to what its markup can be.

// mediaKinds is a set of media types: one bit per openrtb2.MarkupType.
type mediaKinds uint8

const (
	kindBanner mediaKinds = 1 << openrtb2.MarkupBanner
	kindVideo  mediaKinds = 1 << openrtb2.MarkupVideo
	kindAudio  mediaKinds = 1 << openrtb2.MarkupAudio
	kindNative mediaKinds = 1 << openrtb2.MarkupNative
	kindAny               = kindBanner | kindVideo | kindAudio | kindNative
)

// impKinds returns the media types the imp offers: one per media object.
func impKinds(imp *openrtb2.Imp) mediaKinds {
	var k mediaKinds
	if imp.Banner != nil {
		k |= kindBanner
	}
	if imp.Video != nil {
		k |= kindVideo
	}
	if imp.Audio != nil {
		k |= kindAudio
	}
	if imp.Native != nil {
		k |= kindNative
	}
	return k
}

// bidKinds returns the media types of imp that bid may be for: the one its
// mtype names, or, without mtype, those its markup may be (markupKinds).
// An empty set means the bid fits none of the imp's media objects and
// loses with 204 (incorrect creative format); an mtype outside 1..4 names
// no media object at all.
func bidKinds(imp *openrtb2.Imp, bid *openrtb2.Bid) mediaKinds {
	offered := impKinds(imp)
	switch {
	case bid.MType == 0:
		return offered & markupKinds(bid.AdM)
	case bid.MType < openrtb2.MarkupBanner || bid.MType > openrtb2.MarkupNative:
		return 0
	}
	return offered & (1 << bid.MType)
}

// markupKinds infers what markup can be, as far as it safely can, from how
// the markup begins (leading white space, a byte order mark, an XML
// declaration and XML comments skipped):
//
//   - a VAST, DAAST or VMAP document is video or audio (VAST carries both
//     since 4.1): never a banner or native ad;
//   - a JSON object is a native ad (the native response, §4.2.3 adm): never
//     a banner, video or audio;
//   - anything else (HTML, a script, an image URL, other XML) is a banner
//     (never video, audio or native, whose markup is one of the above);
//   - no markup (served on the win notice, §4.3.1) can be anything.
func markupKinds(adm string) mediaKinds {
	s := skipProlog(adm)
	switch {
	case adm == "":
		return kindAny
	case s != "" && s[0] == '{':
		return kindNative
	case hasPrefixFold(s, "<VAST") || hasPrefixFold(s, "<DAAST") ||
		hasPrefixFold(s, "<VMAP") || hasPrefixFold(s, "<vmap:VMAP"):
		return kindVideo | kindAudio
	}
	return kindBanner
}

// skipProlog returns s without what may precede the root of a document:
// white space, a UTF-8 byte order mark, an XML declaration, processing
// instructions and comments.
func skipProlog(s string) string {
	for {
		s = strings.TrimLeft(strings.TrimPrefix(s, "\uFEFF"), " \t\r\n")
		var end string
		switch {
		case strings.HasPrefix(s, "<?"):
			end = "?>"
		case strings.HasPrefix(s, "<!--"):
			end = "-->"
		default:
			return s
		}
		i := strings.Index(s, end)
		if i < 0 {
			return ""
		}
		s = s[i+len(end):]
	}
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// attrBlocked applies the battr of every media object of the imp that the
// bid may be for (kinds): banner, video, audio and native (OpenRTB 2.6
// §3.2.6–3.2.9). A bid whose type is known is held to its object's list;
// one that may be for several, to all of theirs.
func attrBlocked(imp *openrtb2.Imp, bid *openrtb2.Bid, kinds mediaKinds) bool {
	if len(bid.Attr) == 0 {
		return false
	}
	if kinds&kindBanner != 0 && anyAttrIn(bid.Attr, imp.Banner.BAttr) {
		return true
	}
	if kinds&kindVideo != 0 && anyAttrIn(bid.Attr, imp.Video.BAttr) {
		return true
	}
	if kinds&kindAudio != 0 && anyAttrIn(bid.Attr, imp.Audio.BAttr) {
		return true
	}
	return kinds&kindNative != 0 && anyAttrIn(bid.Attr, imp.Native.BAttr)
}

func anyAttrIn(attrs, blocked []adcom1.CreativeAttribute) bool {
	for _, b := range blocked {
		for _, a := range attrs {
			if a == b {
				return true
			}
		}
	}
	return false
}

// notSecure applies secure=1 (OpenRTB 2.6 §3.2.4: the impression "requires
// secure HTTPS URL creative assets and markup") to what the user's device
// loads: the markup and the URLs in it, which covers VAST media files and
// trackers and native assets and trackers (native JSON may escape its
// slashes, "http:\/\/", which counts too). iurl is for ad review and never
// reaches the device; nurl and burl are notices the exchange calls from its
// servers (§4.2.3): none of them fails a secure imp. Markup served on the
// win notice cannot be judged before it is fetched.
func notSecure(imp *openrtb2.Imp, bid *openrtb2.Bid) bool {
	return imp.Secure != nil && *imp.Secure == 1 && insecureURL(bid.AdM)
}

// insecureURL reports whether s holds an http:// URL (or http:\/\/, as
// JSON may write it) that a browser would load, ignoring case. XML
// namespace names are identifiers, never fetched, so VAST's
// xmlns="http://..." and the W3C's schema URLs do not count. It looks for
// each ':' (strings.IndexByte is vectorised) and checks what surrounds it,
// rather than trying every 'h' of the markup.
func insecureURL(s string) bool {
	for i := 0; ; i++ {
		j := strings.IndexByte(s[i:], ':')
		if j < 0 {
			return false
		}
		i += j
		if i < 4 || s[i-1]|0x20 != 'p' { // not "http:": "https:" and most others end here
			continue
		}
		rest, w3 := s[i+1:], ""
		switch {
		case strings.HasPrefix(rest, "//"):
			rest, w3 = rest[2:], "www.w3.org/"
		case strings.HasPrefix(rest, `\/\/`):
			rest, w3 = rest[4:], `www.w3.org\/`
		default:
			continue
		}
		if strings.EqualFold(s[i-4:i], "http") && !strings.HasPrefix(rest, w3) && !xmlnsValue(s[:i-4]) {
			return true
		}
	}
}

// xmlnsValue reports whether before ends with an xmlns attribute's opening
// quote: `xmlns="` or `xmlns:prefix='`.
func xmlnsValue(before string) bool {
	before = strings.TrimRight(before, " ")
	if before == "" || before[len(before)-1] != '"' && before[len(before)-1] != '\'' {
		return false
	}
	before = strings.TrimRight(before[:len(before)-1], " ")
	if before == "" || before[len(before)-1] != '=' {
		return false
	}
	before = strings.TrimRight(before[:len(before)-1], " ")
	name := before[strings.LastIndexAny(before, " \t\r\n<")+1:]
	return name == "xmlns" || strings.HasPrefix(name, "xmlns:")
}
