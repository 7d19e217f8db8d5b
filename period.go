package gavel

import "time"

// Period is a budget's period: total (the zero value), where the budget
// covers all time, or daily, where it is renewed every day.
//
// A daily period starts each day at the local wall-clock time Reset (6h
// means 06:00) in Location, also on days when the clocks change, so such a
// day is 23 or 25 hours long. If the clocks skip the starting time that
// day, the day starts at the change (Reset 2h30m starts 2026-03-08 at 03:00
// EDT in America/New_York); if they repeat it, the day starts at its first
// occurrence.
//
// When a daily period ends, a ledger starts the account's Committed again
// from 0. Holds outstanding at that moment stay reserved, and a hold
// committed later counts in the period it is committed in, so a day may
// bill up to its budget plus what the holds carried into it bill.
//
// Periods are comparable with ==.
type Period struct {
	Daily    bool
	Location *time.Location // the day's time zone; nil means UTC
	Reset    time.Duration  // the day starts this long after local midnight, on the wall clock; in [0, 24h)
}

// DailyPeriod returns a daily period in loc (nil means UTC) that starts
// every day at the local time reset, in [0, 24h).
func DailyPeriod(loc *time.Location, reset time.Duration) Period {
	return Period{Daily: true, Location: loc, Reset: reset}
}

// Start returns the start of the period that holds t, in the period's
// location; the zero time for a total period. A Reset outside [0, 24h) is
// taken modulo 24h.
func (p Period) Start(t time.Time) time.Time {
	start, _ := p.bounds(t)
	return start
}

// Next returns the start of the period after the one that holds t, in the
// period's location; the zero time for a total period.
func (p Period) Next(t time.Time) time.Time {
	_, next := p.bounds(t)
	return next
}

func (p Period) valid() bool { return !p.Daily || (p.Reset >= 0 && p.Reset < 24*time.Hour) }

// bounds returns the start of the period that holds t and of the next one.
// Days are counted on the local calendar, never by adding 24h.
func (p Period) bounds(t time.Time) (start, next time.Time) {
	if !p.Daily {
		return time.Time{}, time.Time{}
	}
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := t.In(loc).Date()
	start = p.dayStart(y, m, d, loc)
	for start.After(t) { // before today's reset: the period began yesterday
		d--
		start = p.dayStart(y, m, d, loc)
	}
	next = p.dayStart(y, m, d+1, loc)
	return start, next
}

// dayStart returns the first instant of the local date y-m-d (time.Date
// normalizes d out of range) at which the wall clock reads Reset or later.
func (p Period) dayStart(y int, m time.Month, d int, loc *time.Location) time.Time {
	r := p.Reset % (24 * time.Hour)
	if r < 0 {
		r += 24 * time.Hour
	}
	hh, mm, ss, ns := int(r/time.Hour), int(r%time.Hour/time.Minute), int(r%time.Minute/time.Second), int(r%time.Second)
	t := time.Date(y, m, d, hh, mm, ss, ns, loc)
	// A wall time that the clocks skip does not exist; time.Date then
	// answers with a neighbouring wall time. Start the day at the change.
	want := time.Date(y, m, d, hh, mm, ss, ns, time.UTC)
	got := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
	switch zoneStart, zoneEnd := t.ZoneBounds(); {
	case got.Before(want):
		return zoneEnd
	case got.After(want):
		return zoneStart
	}
	return t
}
