package gavelredis_test

import (
	"context"
	"log"
	"time"

	"github.com/redis/rueidis"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelredis"
)

// A ProfileStore on a rueidis client enriches every auction; hot profiles
// come from the client's memory. (It needs a Redis, so it does not run.)
func ExampleProfileStore() {
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{"127.0.0.1:6379"}})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	store, err := gavelredis.NewProfileStore(client, gavelredis.WithKeyPrefix("eu"), gavelredis.WithProfileCacheTTL(time.Minute))
	if err != nil {
		log.Fatal(err)
	}

	// A writer (a DMP sync job, say) stores profiles...
	err = store.Put(context.Background(), "u1", &gavel.Profile{Keywords: []string{"sports"}}, 24*time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	// ...and the exchange looks them up by user.id.
	auction, err := gavel.New(gavel.WithProfileStore(store) /* , gavel.WithBidders(...) */)
	if err != nil {
		log.Fatal(err)
	}
	_ = auction
}
