package predict_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/gavelrtb/gavel/auctiontest"
	"github.com/gavelrtb/gavel/predict"
)

// A click model trained by XGBoost serves a CPC campaign; its columns are
// named as GBTFeaturesByName knows them, so no mapping is given.
func ExampleGBTPredictor() {
	f, err := os.Open("testdata/gbt/model.json") // Booster.save_model("model.json")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	ctr, err := predict.LoadXGBoost(f)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ctr.Trees(), "trees over", ctr.FeatureNames())

	p, err := predict.NewGBTPredictor(ctr, nil, nil, predict.WithClock(auctiontest.NewClock(noon)))
	if err != nil {
		log.Fatal(err)
	}
	req, c := gbtRequest(), cpcCampaign("c1") // campaign.WithPredictor(p) in a Bidder
	got, err := p.Predict(context.Background(), req, &req.Imp[0], c, &c.Creatives[0])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("CTR %.4f\n", got.CTR)
	// Output:
	// 60 trees over [bidfloor w h devicetype connectiontype hour weekday age instl app]
	// CTR 0.0837
}
