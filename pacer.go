package gavel

import "context"

// Pacer: placeholder until the pacer branch lands.
type Pacer interface {
	Allow(ctx context.Context, account string, draw uint64) bool
	Spend(ctx context.Context, account string, amount int64)
}
