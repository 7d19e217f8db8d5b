// Package gavelredis provides gavel's Redis adapters: a ProfileStore with
// client-side caching, a Ledger whose reservations are atomic Lua scripts,
// a Pacer whose state every process that runs auctions on one budget
// shares, and a FrequencyStore that counts the campaign package's
// frequency caps. It uses github.com/redis/rueidis for its auto-pipelining and
// client-side caching; its name never collides with a Redis client's.
//
// Every constructor takes the client, which the caller owns, and options
// that it validates, reporting all problems at once in an error wrapping
// gavel.ErrInvalidOption. WithKeyPrefix configures all four types alike:
// their keys start with the prefix (DefaultKeyPrefix, "gavel") and ':'.
package gavelredis
