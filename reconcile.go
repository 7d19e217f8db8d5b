package gavel

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// Reconciliation: committed spend rebuilt from the billing events that the
// sinks wrote, and restored into a Ledger (and a Pacer) that lost it, for
// example a Redis that restarted empty. Nobody edits numbers by hand.

// Restorer is an optional capability of a Ledger, and of a Pacer that
// records spend: one whose committed spend can be set from outside,
// after it was lost. Reconcile uses it; check for it with a type
// assertion.
type Restorer interface {
	// Restore sets account's committed spend in the period that starts
	// at periodStart to committed micros. periodStart is the zero time
	// for a total budget. A Ledger counts a flight as a total budget
	// (the zero time); a Pacer that spreads a flight may count it from
	// the flight's start instead, so Reconcile offers a flight's spend
	// at both. For a periodStart that is not the account's current
	// period, Restore returns nil and changes nothing: a period that has
	// ended needs no restoring, and one that has not started has no
	// spend. It returns ErrUnknownAccount if the account has no budget
	// (set the budgets first), and ctx.Err() if ctx is done.
	Restore(ctx context.Context, account string, periodStart time.Time, committed int64) error
}

// AccountSpend is what the billing events say an account spent in one of
// its periods.
type AccountSpend struct {
	Account string
	// PeriodStart is the start of the period, as the account's
	// Period.Start gives it: the zero time for a total budget and for a
	// flight.
	PeriodStart time.Time
	// FlightStart is the start of the account's flight, the zero time
	// when its budget is not a flight.
	FlightStart time.Time
	Committed   int64 // micros billed in the period: the sum of cost_micros
	Events      int   // billing events counted, duplicates not included
}

// SumStats counts what a SpendSummer was given. Every line or event it
// was given is in exactly one of Billed, Duplicates, Unbudgeted, Other
// and Malformed.
type SumStats struct {
	Billed     int // billing events counted
	Duplicates int // billing events of an impression already counted, not counted again
	Conflicts  int // of the Duplicates, those whose cost differed from the first event's: the first counts
	Unbudgeted int // billing events of no account, or of an account without a budget
	Other      int // events of other types, or of a type this package does not know
	Malformed  int // lines that are not a billing event this package can read

	// MalformedLines are the line numbers (from 1) of the first
	// MaxMalformedLines malformed lines that ReadJSONLines read, with
	// what is wrong with each.
	MalformedLines []MalformedLine
}

// MalformedLine is a line of a JSON-lines stream that a SpendSummer could
// not count.
type MalformedLine struct {
	Line int // from 1
	Err  error
}

// MaxMalformedLines bounds SumStats.MalformedLines.
const MaxMalformedLines = 20

// A SpendSummer adds up billing events (EventBilling) per account and per
// period of the account's Budget, so that what was committed can be
// restored (Reconcile). Feed it decoded events (Add), JSON values (AddJSON,
// one per Kafka record, say) or whole JSON-lines streams (ReadJSONLines,
// the files a JSONLinesSink writes), in any order and mixed: the totals do
// not depend on the order.
//
// Each billing event counts its cost_micros (what Auction.Commit billed)
// in the period of its account that holds its ts. The same impression
// counts once however many of its billing events it is given: a sink that
// wrote a batch again, a Kafka record delivered twice, a second notice on
// a Ledger that does not tell repeats apart (not a HoldEnder). An
// impression is named by its account, auction_id, imp_id, bidder, seat
// and bid_id; so an exchange whose auction ids repeat (the bid request's
// id is the publisher's) counts once two impressions billed to the same
// account for the same imp and bid ids, and SumStats.Duplicates shows
// them. It keeps a 16-byte hash and the cost of each impression for that
// (about 60 bytes of memory each).
//
// Events of other types, and billing events with no account (an
// unbudgeted winner) or of an account without a budget, are counted in
// SumStats and otherwise ignored.
//
// It can count only what the sinks delivered: a billing event that a
// sink dropped (an AsyncSink that was full, a Kafka sink past its delivery
// timeout; both count them in their stats) is missing from the sum, and
// restoring it restores that much less than was committed.
//
// The billing event's ts is taken when Auction.Commit returns, by the
// system clock; the Ledger counts the commit in the period that holds its
// own clock's now. A commit within a few milliseconds of a daily reset
// may so count in one period in the Ledger and in the other here.
//
// A SpendSummer is not safe for concurrent use. The zero value is not
// usable; create one with NewSpendSummer.
type SpendSummer struct {
	budgets map[string]Budget
	seen    map[[16]byte]int64 // impression -> its first cost
	spend   map[spendKey]*AccountSpend
	stats   SumStats
	key     []byte // scratch for the impression's name
}

type spendKey struct {
	account string
	start   int64 // Unix nanoseconds of PeriodStart; 0 for a total period
}

// NewSpendSummer returns a SpendSummer for the accounts of budgets, the
// same budgets the Ledger holds (WithBudgets). It returns an error
// wrapping ErrInvalidBudget for a budget that Validate refuses or an
// account given twice.
func NewSpendSummer(budgets ...Budget) (*SpendSummer, error) {
	s := &SpendSummer{
		budgets: make(map[string]Budget, len(budgets)),
		seen:    make(map[[16]byte]int64),
		spend:   make(map[spendKey]*AccountSpend),
	}
	var errs []error
	for _, b := range budgets {
		if err := b.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := s.budgets[b.Account]; dup {
			errs = append(errs, fmt.Errorf("%w: account %q has two budgets", ErrInvalidBudget, b.Account))
			continue
		}
		s.budgets[b.Account] = b
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// Add counts e if it is a billing event of a budgeted account that was not
// counted before, and reports whether it did. It returns an error, and
// counts e as malformed, for a billing event with a schema version other
// than EventSchemaVersion, a negative cost or no ts.
func (s *SpendSummer) Add(e *Event) (bool, error) {
	if e.Type != EventBilling {
		s.stats.Other++
		return false, nil
	}
	return s.addBilling(e)
}

// billingLine holds the fields of a billing event that a SpendSummer
// reads; the JSON names are Event's.
type billingLine struct {
	Version   int    `json:"v"`
	Type      string `json:"type"`
	Time      int64  `json:"ts"`
	AuctionID string `json:"auction_id"`
	ImpID     string `json:"imp_id"`
	Bidder    string `json:"bidder"`
	Seat      string `json:"seat"`
	BidID     string `json:"bid_id"`
	Account   string `json:"account"`
	Cost      int64  `json:"cost_micros"`
}

// AddJSON counts the event whose JSON is data (an Event as encoding/json
// or a JSONLinesSink writes it, without the newline), as Add does. It
// returns an error, and counts the value as malformed, if data is not a
// JSON object with a type, or is a billing event Add refuses. An event of
// a type this package does not know counts as Other.
func (s *SpendSummer) AddJSON(data []byte) (bool, error) {
	if otherType(data) {
		// Most events are not billing: checking that they are JSON is
		// enough, and a few times cheaper than decoding them.
		if !json.Valid(data) {
			s.stats.Malformed++
			return false, errors.New("gavel: event: invalid JSON")
		}
		s.stats.Other++
		return false, nil
	}
	var l billingLine
	if err := json.Unmarshal(data, &l); err != nil {
		s.stats.Malformed++
		return false, fmt.Errorf("gavel: event: %w", err)
	}
	if l.Type == "" {
		s.stats.Malformed++
		return false, errors.New("gavel: event has no type")
	}
	if l.Type != eventTypeNames[EventBilling] {
		s.stats.Other++
		return false, nil
	}
	return s.addBilling(&Event{
		Version: l.Version, Type: EventBilling, Time: l.Time, AuctionID: l.AuctionID, ImpID: l.ImpID,
		Bidder: l.Bidder, Seat: l.Seat, BidID: l.BidID, Account: l.Account, CostMicros: l.Cost,
	})
}

// otherType reports whether data, the JSON of an event, says plainly
// that its type is not billing: it has "type":"<name>", as encoding/json
// writes it, with a name other than billing, and no "type":"billing". An
// unescaped quote cannot be inside a JSON string, so the match is the key.
func otherType(data []byte) bool {
	const key = `"type":"`
	i := bytes.Index(data, []byte(key))
	if i < 0 {
		return false
	}
	name := data[i+len(key):]
	end := bytes.IndexByte(name, '"')
	if end < 0 || string(name[:end]) == eventTypeNames[EventBilling] {
		return false
	}
	return !bytes.Contains(data, []byte(key+eventTypeNames[EventBilling]+`"`))
}

// addBilling counts the billing event e.
func (s *SpendSummer) addBilling(e *Event) (bool, error) {
	switch {
	case e.Version != EventSchemaVersion:
		s.stats.Malformed++
		return false, fmt.Errorf("gavel: billing event of auction %q: schema version %d, want %d", e.AuctionID, e.Version, EventSchemaVersion)
	case e.CostMicros < 0:
		s.stats.Malformed++
		return false, fmt.Errorf("gavel: billing event of auction %q: negative cost_micros %d", e.AuctionID, e.CostMicros)
	case e.Time <= 0:
		s.stats.Malformed++
		return false, fmt.Errorf("gavel: billing event of auction %q: no ts", e.AuctionID)
	}
	b, ok := s.budgets[e.Account]
	if !ok {
		s.stats.Unbudgeted++
		return false, nil
	}
	id := s.impression(e)
	if first, dup := s.seen[id]; dup {
		s.stats.Duplicates++
		if first != e.CostMicros {
			s.stats.Conflicts++
		}
		return false, nil
	}
	s.seen[id] = e.CostMicros
	start := b.Period.Start(time.UnixMilli(e.Time))
	k := spendKey{account: e.Account}
	if !start.IsZero() {
		k.start = start.UnixNano()
	}
	sp := s.spend[k]
	if sp == nil {
		sp = &AccountSpend{Account: e.Account, PeriodStart: start, FlightStart: flightStart(b)}
		s.spend[k] = sp
	}
	sp.Committed += e.CostMicros
	sp.Events++
	s.stats.Billed++
	return true, nil
}

// impression names the impression that e bills: a hash of its account,
// auction, imp, bidder, seat and bid ids, each followed by a 0 byte.
func (s *SpendSummer) impression(e *Event) [16]byte {
	k := s.key[:0]
	for _, f := range [...]string{e.Account, e.AuctionID, e.ImpID, e.Bidder, e.Seat, e.BidID} {
		k = append(append(k, f...), 0)
	}
	s.key = k
	sum := sha256.Sum256(k)
	return [16]byte(sum[:16])
}

func flightStart(b Budget) time.Time {
	if b.flight() {
		return b.Start
	}
	return time.Time{}
}

// ReadJSONLines counts the events of r, a JSON-lines stream as a
// JSONLinesSink writes it: one event per line, each line given to AddJSON.
// Empty lines are skipped. A malformed line (one that AddJSON refuses) is
// counted, recorded with its line number in SumStats.MalformedLines, and
// skipped: the lines after it still count, so one torn line (a process
// killed in the middle of a write) loses only itself. Whether to restore
// from a stream with malformed lines is the caller's decision; check
// Stats().Malformed. ReadJSONLines returns only r's error, with the number
// of the line it was reading.
func (s *SpendSummer) ReadJSONLines(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte // a line longer than br's buffer
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(bytes.TrimSpace(line)) > 0 {
			if _, aerr := s.AddJSON(line); aerr != nil && len(s.stats.MalformedLines) < MaxMalformedLines {
				s.stats.MalformedLines = append(s.stats.MalformedLines, MalformedLine{Line: n, Err: aerr})
			}
		}
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return fmt.Errorf("gavel: reading events, line %d: %w", n, err)
		}
	}
}

// Stats returns what the SpendSummer was given so far.
func (s *SpendSummer) Stats() SumStats {
	st := s.stats
	st.MalformedLines = slices.Clone(st.MalformedLines)
	return st
}

// Periods returns the spend of every account and period that a billing
// event was counted in, by account, then by period.
func (s *SpendSummer) Periods() []AccountSpend {
	out := make([]AccountSpend, 0, len(s.spend))
	for _, sp := range s.spend {
		out = append(out, *sp)
	}
	slices.SortFunc(out, func(a, b AccountSpend) int {
		return cmp.Or(cmp.Compare(a.Account, b.Account), a.PeriodStart.Compare(b.PeriodStart))
	})
	return out
}

// Current returns, for every account with a budget, its spend in the
// period that holds now: what Reconcile restores. An account with no
// billing event in that period has Committed 0. Accounts are in order.
func (s *SpendSummer) Current(now time.Time) []AccountSpend {
	out := make([]AccountSpend, 0, len(s.budgets))
	for account, b := range s.budgets {
		start := b.Period.Start(now)
		k := spendKey{account: account}
		if !start.IsZero() {
			k.start = start.UnixNano()
		}
		sp := AccountSpend{Account: account, PeriodStart: start, FlightStart: flightStart(b)}
		if got := s.spend[k]; got != nil {
			sp = *got
		}
		out = append(out, sp)
	}
	slices.SortFunc(out, func(a, b AccountSpend) int { return cmp.Compare(a.Account, b.Account) })
	return out
}

// Reconcile restores each spend into each restorer: Restore(ctx,
// sp.Account, sp.PeriodStart, sp.Committed), and for a flight also at
// sp.FlightStart (a Restorer ignores the start that is not its current
// period's; see Restorer). Give it SpendSummer.Current, after the budgets
// are set on the restorers. It goes on past a failed Restore and returns
// every failure, each naming its account, joined; ctx.Err() once ctx is
// done.
func Reconcile(ctx context.Context, spend []AccountSpend, restorers ...Restorer) error {
	var errs []error
	for _, sp := range spend {
		for _, r := range restorers {
			if err := ctx.Err(); err != nil {
				return errors.Join(append(errs, err)...)
			}
			err := r.Restore(ctx, sp.Account, sp.PeriodStart, sp.Committed)
			if err == nil && !sp.FlightStart.IsZero() {
				err = r.Restore(ctx, sp.Account, sp.FlightStart, sp.Committed)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("gavel: restore %q: %w", sp.Account, err))
			}
		}
	}
	return errors.Join(errs...)
}
