package predict

import (
	"errors"
	"fmt"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// Defaults of the Extractor's options.
const (
	// DefaultBits is the default of WithBits: 2^20 buckets.
	DefaultBits = 20
	// MaxBits is the largest WithBits: 2^28 buckets, 4 GiB per model.
	MaxBits = 28
	// DefaultMaxSegments is the default of WithMaxSegments.
	DefaultMaxSegments = 16
)

// MaxFeatures is the most features Extract appends for one (imp,
// campaign, creative): the fixed features plus two per segment, with
// WithMaxSegments at its default. A dst of this capacity never grows.
const MaxFeatures = fixedFeatures + 2*DefaultMaxSegments

// fixedFeatures is the number of features Extract appends besides the
// segments.
const fixedFeatures = 20

// Namespaces: each feature's value is hashed, then mixed with its
// namespace, so that equal strings of two fields are different features.
const (
	nsBias uint64 = iota + 1
	nsCampaign
	nsAdvertiser
	nsCreative
	nsMType
	nsPub
	nsPublisher
	nsPubCampaign
	nsSize
	nsCreativeSize
	nsPos
	nsInstl
	nsDeviceType
	nsDeviceCampaign
	nsOS
	nsCountry
	nsCountryCampaign
	nsHour
	nsWeekday
	nsHourCampaign
	nsHourUTC
	nsWeekdayUTC
	nsSegment
	nsSegmentCampaign
)

// An Extractor turns an (imp, campaign, creative) of a request into hashed
// sparse features: bucket indexes in [0, 2^bits), the hashing trick over
// xxhash. It is immutable and safe for concurrent use; Extract does not
// allocate once dst has the capacity (MaxFeatures with the default
// options). Create one with NewExtractor; the zero Extractor is not usable.
//
// The features, each one bucket: a bias; the campaign, its advertiser,
// the creative (within its campaign) and its media type; the site domain
// (or, for an app, its bundle), the publisher id, and the domain × campaign;
// the imp's size (its banner's first format, or w×h) and creative × size;
// the ad position and interstitial flag; the device type and device type
// × campaign; the OS; the country (device.geo, else user.geo) and country
// × campaign; the hour of day, weekday and hour × campaign, on the user's
// clock when device.geo.utcoffset is set (non-zero), else in UTC under
// features of their own; and, for each segment of user.data (up to
// WithMaxSegments), the segment (data id × segment id) and segment ×
// campaign. A missing field yields the feature of an empty value, so
// every (imp, campaign, creative) has the same number of features for a
// given number of segments.
type Extractor struct {
	bits        int
	mask        uint32
	maxSegments int
}

// An ExtractorOption configures an Extractor.
type ExtractorOption interface {
	apply(*Extractor)
}

type extractorOption func(*Extractor)

func (f extractorOption) apply(x *Extractor) { f(x) }

// WithBits sets the number of buckets to 2^bits, in [1, MaxBits]. The
// models the features feed must have as many (Config.Bits). Default
// DefaultBits.
func WithBits(bits int) ExtractorOption {
	return extractorOption(func(x *Extractor) { x.bits = bits })
}

// WithMaxSegments bounds the user.data segments that become features;
// the rest are ignored, in request order. It must not be negative.
// Default DefaultMaxSegments.
func WithMaxSegments(n int) ExtractorOption {
	return extractorOption(func(x *Extractor) { x.maxSegments = n })
}

// NewExtractor returns an Extractor configured by opts, applied in order.
// It reports every invalid option at once, wrapping gavel.ErrInvalidOption.
func NewExtractor(opts ...ExtractorOption) (*Extractor, error) {
	x := &Extractor{bits: DefaultBits, maxSegments: DefaultMaxSegments}
	for _, o := range opts {
		o.apply(x)
	}
	var errs []error
	if x.bits < 1 || x.bits > MaxBits {
		errs = append(errs, fmt.Errorf("%w: predict: bits %d not in [1, %d]", gavel.ErrInvalidOption, x.bits, MaxBits))
	}
	if x.maxSegments < 0 {
		errs = append(errs, fmt.Errorf("%w: predict: negative max segments %d", gavel.ErrInvalidOption, x.maxSegments))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	x.mask = uint32(1)<<x.bits - 1
	return x, nil
}

// Bits returns the log2 of the number of buckets.
func (x *Extractor) Bits() int { return x.bits }

// MaxFeatures returns the most features Extract appends with x's options.
func (x *Extractor) MaxFeatures() int { return fixedFeatures + 2*x.maxSegments }

// Extract appends the features of imp of req shown with creative cr of
// campaign c at time now to dst, and returns it. req, imp, c and cr are
// read, not kept; none may be nil.
func (x *Extractor) Extract(dst []uint32, req *openrtb2.BidRequest, imp *openrtb2.Imp, c *campaign.Campaign, cr *campaign.Creative, now time.Time) []uint32 {
	camp := xxhash.Sum64String(c.ID)
	crea := mix(camp, xxhash.Sum64String(cr.ID))
	dst = append(dst,
		x.bucket(nsBias, 0),
		x.bucket(nsCampaign, camp),
		x.bucket(nsAdvertiser, xxhash.Sum64String(c.Advertiser)),
		x.bucket(nsCreative, crea),
		x.bucket(nsMType, uint64(cr.MType)),
	)
	dst = x.appendPlacement(dst, req, imp, camp, crea)
	dst = x.appendDevice(dst, req, camp)
	dst = x.appendTime(dst, req, now, camp)
	return x.appendSegments(dst, req, camp)
}

// appendPlacement appends the site or app, the imp's size and position:
// 7 features.
func (x *Extractor) appendPlacement(dst []uint32, req *openrtb2.BidRequest, imp *openrtb2.Imp, camp, crea uint64) []uint32 {
	var pub, publisher string
	switch {
	case req.Site != nil:
		pub = req.Site.Domain
		if req.Site.Publisher != nil {
			publisher = req.Site.Publisher.ID
		}
	case req.App != nil:
		pub = req.App.Bundle
		if req.App.Publisher != nil {
			publisher = req.App.Publisher.ID
		}
	}
	ph := xxhash.Sum64String(pub)
	w, h, pos := impSize(imp)
	size := uint64(w)<<32 | uint64(uint32(h))
	return append(dst,
		x.bucket(nsPub, ph),
		x.bucket(nsPublisher, xxhash.Sum64String(publisher)),
		x.bucket(nsPubCampaign, mix(ph, camp)),
		x.bucket(nsSize, size),
		x.bucket(nsCreativeSize, mix(crea, size)),
		x.bucket(nsPos, uint64(pos)),
		x.bucket(nsInstl, uint64(imp.Instl)),
	)
}

// impSize returns the imp's banner size (its first format, else w×h) and
// position; zeros for other imps.
func impSize(imp *openrtb2.Imp) (w, h, pos int64) {
	b := imp.Banner
	if b == nil {
		return 0, 0, 0
	}
	if b.Pos != nil {
		pos = int64(*b.Pos)
	}
	if len(b.Format) > 0 {
		return b.Format[0].W, b.Format[0].H, pos
	}
	if b.W != nil && b.H != nil {
		return *b.W, *b.H, pos
	}
	return 0, 0, pos
}

// appendDevice appends the device type, OS and country: 5 features.
func (x *Extractor) appendDevice(dst []uint32, req *openrtb2.BidRequest, camp uint64) []uint32 {
	var devType uint64
	var os, country string
	if d := req.Device; d != nil {
		devType, os = uint64(d.DeviceType), d.OS
		if d.Geo != nil {
			country = d.Geo.Country
		}
	}
	if country == "" && req.User != nil && req.User.Geo != nil {
		country = req.User.Geo.Country
	}
	ch := xxhash.Sum64String(country)
	return append(dst,
		x.bucket(nsDeviceType, devType),
		x.bucket(nsDeviceCampaign, mix(devType, camp)),
		x.bucket(nsOS, xxhash.Sum64String(os)),
		x.bucket(nsCountry, ch),
		x.bucket(nsCountryCampaign, mix(ch, camp)),
	)
}

// appendTime appends the hour, weekday and hour × campaign on the user's
// clock, or in UTC when the user's offset is unknown: 3 features.
func (x *Extractor) appendTime(dst []uint32, req *openrtb2.BidRequest, now time.Time, camp uint64) []uint32 {
	nsH, nsW := nsHourUTC, nsWeekdayUTC
	t := now.UTC()
	if d := req.Device; d != nil && d.Geo != nil && d.Geo.UTCOffset != 0 {
		nsH, nsW = nsHour, nsWeekday
		t = t.Add(time.Duration(d.Geo.UTCOffset) * time.Minute)
	}
	hour := uint64(t.Hour())
	return append(dst,
		x.bucket(nsH, hour),
		x.bucket(nsW, uint64(t.Weekday())),
		x.bucket(nsHourCampaign, mix(nsH<<8|hour, camp)),
	)
}

// appendSegments appends two features per segment of user.data, up to
// the maximum.
func (x *Extractor) appendSegments(dst []uint32, req *openrtb2.BidRequest, camp uint64) []uint32 {
	if req.User == nil {
		return dst
	}
	left := x.maxSegments
	for i := range req.User.Data {
		d := &req.User.Data[i]
		dh := xxhash.Sum64String(d.ID)
		for j := range d.Segment {
			if left == 0 {
				return dst
			}
			left--
			sh := mix(dh, xxhash.Sum64String(d.Segment[j].ID))
			dst = append(dst, x.bucket(nsSegment, sh), x.bucket(nsSegmentCampaign, mix(sh, camp)))
		}
	}
	return dst
}

// bucket is the bucket of value v in namespace ns.
func (x *Extractor) bucket(ns, v uint64) uint32 {
	return uint32(mix(ns, v)) & x.mask
}

// mix combines two hashes into one (the finalizer of SplitMix64 over a
// multiply-xor of both), so that crosses of equal parts in another order
// differ.
func mix(a, b uint64) uint64 {
	h := a*0x9e3779b97f4a7c15 ^ b
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
