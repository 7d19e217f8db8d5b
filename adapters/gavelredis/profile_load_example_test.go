package gavelredis_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"log"
	"os"
	"time"

	"github.com/redis/rueidis"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelredis"
)

// profilesFile is a source of truth for Load: a file of JSON lines
// {"key": ..., "profile": {...}}, read again at each load.
func profilesFile(path string) iter.Seq2[gavelredis.ProfileEntry, error] {
	return func(yield func(gavelredis.ProfileEntry, error) bool) {
		f, err := os.Open(path)
		if err != nil {
			yield(gavelredis.ProfileEntry{}, err)
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			var line struct {
				Key     string        `json:"key"`
				Profile gavel.Profile `json:"profile"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				yield(gavelredis.ProfileEntry{}, fmt.Errorf("%s:%d: %w", path, n, err))
				return
			}
			if !yield(gavelredis.ProfileEntry{Key: line.Key, Profile: &line.Profile, TTL: 30 * 24 * time.Hour}, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil {
			yield(gavelredis.ProfileEntry{}, err)
		}
	}
}

// Profiles reloaded from their source of truth whenever Redis comes back
// without them: at start, and within a minute of an empty restart. (It
// needs a Redis, so it does not run.)
func ExampleProfileStore_KeepLoaded() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client, err := rueidis.NewClient(gavelredis.ClientOption("127.0.0.1:6379"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	store, err := gavelredis.NewProfileStore(client)
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		_ = store.KeepLoaded(ctx, time.Minute, profilesFile("profiles.jsonl"), func(st gavelredis.LoadStats, err error) {
			log.Printf("profiles reloaded: %d written, %d invalid, error %v", st.Written, st.Invalid, err)
		})
	}()
	// ... gavel.New(gavel.WithProfileStore(store), ...) and serve.
}
