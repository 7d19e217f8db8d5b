package predict

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/campaign"
	"github.com/prebid/openrtb/v20/openrtb2"
)

// A GBTFeatureFunc fills x with the dense features of an (imp, campaign,
// creative) of req at now, for a GBTPredictor. x arrives with every value
// NaN, XGBoost's missing value, and as long as the models' NumFeature (the
// longer of the two); a feature the request does not have stays NaN.
// Column i must be the column the models were trained with as feature i.
// It is called in the auction, concurrently: it must be safe for
// concurrent use, and should not allocate.
type GBTFeatureFunc func(x []float64, req *openrtb2.BidRequest, imp *openrtb2.Imp, c *campaign.Campaign, cr *campaign.Creative, now time.Time)

// gbtInput is what a column reads.
type gbtInput struct {
	req *openrtb2.BidRequest
	imp *openrtb2.Imp
	cr  *campaign.Creative
	now time.Time
}

// gbtColumn reads one column, NaN when missing.
type gbtColumn func(in gbtInput) float64

var nan = math.NaN()

// gbtColumns are the columns GBTFeaturesByName knows, by name.
var gbtColumns = map[string]gbtColumn{
	"bidfloor": func(in gbtInput) float64 { return in.imp.BidFloor },
	"w":        func(in gbtInput) float64 { w, _ := gbtImpSize(in.imp); return w },
	"h":        func(in gbtInput) float64 { _, h := gbtImpSize(in.imp); return h },
	"pos": func(in gbtInput) float64 {
		if b := in.imp.Banner; b != nil && b.Pos != nil {
			return float64(*b.Pos)
		}
		return nan
	},
	"instl": func(in gbtInput) float64 { return float64(in.imp.Instl) },
	"secure": func(in gbtInput) float64 {
		if in.imp.Secure != nil {
			return float64(*in.imp.Secure)
		}
		return nan
	},
	"app": func(in gbtInput) float64 {
		if in.req.App != nil {
			return 1
		}
		return 0
	},
	"devicetype": func(in gbtInput) float64 {
		if d := in.req.Device; d != nil && d.DeviceType != 0 {
			return float64(d.DeviceType)
		}
		return nan
	},
	"connectiontype": func(in gbtInput) float64 {
		if d := in.req.Device; d != nil && d.ConnectionType != nil {
			return float64(*d.ConnectionType)
		}
		return nan
	},
	"hour":    func(in gbtInput) float64 { return float64(userTime(in).Hour()) },
	"weekday": func(in gbtInput) float64 { return float64(userTime(in).Weekday()) },
	"age": func(in gbtInput) float64 {
		if u := in.req.User; u != nil && u.Yob > 0 {
			return float64(int64(in.now.Year()) - u.Yob)
		}
		return nan
	},
	"creative_w": func(in gbtInput) float64 { return positive(in.cr.W) },
	"creative_h": func(in gbtInput) float64 { return positive(in.cr.H) },
	"duration":   func(in gbtInput) float64 { return positive(in.cr.Duration) },
	"mtype":      func(in gbtInput) float64 { return positive(int64(in.cr.MType)) },
}

func positive(v int64) float64 {
	if v > 0 {
		return float64(v)
	}
	return nan
}

// gbtImpSize returns the imp's size: its banner's first format, else the
// banner's w × h, else the video's; NaN when unknown.
func gbtImpSize(imp *openrtb2.Imp) (w, h float64) {
	if b := imp.Banner; b != nil {
		if len(b.Format) > 0 {
			return positive(b.Format[0].W), positive(b.Format[0].H)
		}
		if b.W != nil && b.H != nil {
			return positive(*b.W), positive(*b.H)
		}
	}
	if v := imp.Video; v != nil && v.W != nil && v.H != nil {
		return positive(*v.W), positive(*v.H)
	}
	return nan, nan
}

// userTime returns now on the user's clock when device.geo.utcoffset is
// set (non-zero), else in UTC, as the Extractor's hour and weekday.
func userTime(in gbtInput) time.Time {
	t := in.now.UTC()
	if d := in.req.Device; d != nil && d.Geo != nil && d.Geo.UTCOffset != 0 {
		t = t.Add(time.Duration(d.Geo.UTCOffset) * time.Minute)
	}
	return t
}

// GBTFeatureNames returns the names GBTFeaturesByName knows, sorted.
func GBTFeatureNames() []string {
	names := make([]string, 0, len(gbtColumns))
	for n := range gbtColumns {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// GBTFeaturesByName returns the default mapping: a GBTFeatureFunc that
// fills column i with the field names[i] names, to be given the names of
// the columns a model was trained with (GBTModel.FeatureNames, the
// feature_names of XGBoost's DMatrix). The fields, each NaN when the
// request does not have it:
//
//	bidfloor        imp.bidfloor (0 when absent, as OpenRTB's default)
//	w, h            the imp's size: its banner's first format, else the
//	                banner's w × h, else the video's w × h
//	pos             imp.banner.pos
//	instl           imp.instl (0 when absent)
//	secure          imp.secure
//	app             1 for an app, 0 for a site
//	devicetype      device.devicetype
//	connectiontype  device.connectiontype
//	hour, weekday   the hour (0-23) and weekday (0 Sunday - 6) on the
//	                user's clock when device.geo.utcoffset is set, else UTC
//	age             now's year minus user.yob
//	creative_w, creative_h, duration, mtype   the creative's W, H,
//	                Duration and MType
//
// A name it does not know is an error wrapping gavel.ErrInvalidOption
// that lists them; "" leaves its column missing (NaN), for a column that
// another GBTFeatureFunc fills: wrap this one and set it after.
func GBTFeaturesByName(names []string) (GBTFeatureFunc, error) {
	cols := make([]gbtColumn, len(names))
	var unknown []string
	for i, n := range names {
		if n == "" {
			continue
		}
		if cols[i] = gbtColumns[n]; cols[i] == nil {
			unknown = append(unknown, fmt.Sprintf("%q", n))
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%w: predict: unknown GBT features %s (known: %s)",
			gavel.ErrInvalidOption, strings.Join(unknown, ", "), strings.Join(GBTFeatureNames(), ", "))
	}
	return func(x []float64, req *openrtb2.BidRequest, imp *openrtb2.Imp, _ *campaign.Campaign, cr *campaign.Creative, now time.Time) {
		in := gbtInput{req: req, imp: imp, cr: cr, now: now}
		for i, col := range cols {
			if col != nil && i < len(x) {
				x[i] = col(in)
			}
		}
	}, nil
}
