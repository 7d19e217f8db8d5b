// Package gavelredis provides gavel's Redis adapters: a ProfileStore with
// client-side caching, a Ledger whose reservations are atomic Lua scripts,
// and pacing state shared by every process that runs auctions on one
// budget. It uses github.com/redis/rueidis for its auto-pipelining and
// client-side caching.
package gavelredis
