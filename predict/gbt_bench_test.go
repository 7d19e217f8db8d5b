package predict_test

import (
	"context"
	"testing"

	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/predict"
)

// BenchmarkGBTPredict is the default mapping's 10 features and two
// predictions (click and conversion) of the 60-tree, depth-4 test model
// for one (imp, campaign, creative).
func BenchmarkGBTPredict(b *testing.B) {
	m := loadGBT(b)
	p, err := predict.NewGBTPredictor(m, m, nil, predict.WithClock(auctiontest.NewClock(noon)))
	if err != nil {
		b.Fatal(err)
	}
	req, c := gbtRequest(), cpcCampaign("c1")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		got, err := p.Predict(ctx, req, &req.Imp[0], c, &c.Creatives[0])
		if err != nil || !(got.CTR > 0 && got.CTR < 1) || got.CVR != got.CTR {
			b.Fatalf("prediction %+v, %v", got, err)
		}
	}
}

// BenchmarkGBTModel is one model's evaluation of a vector alone.
func BenchmarkGBTModel(b *testing.B) {
	m := loadGBT(b)
	_, cases := loadGBTCases(b)
	var sum float64
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sum += m.Predict(cases[i%len(cases)].x)
		i++
	}
	if !(sum > 0) {
		b.Fatal("no predictions")
	}
}
