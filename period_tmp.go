package gavel

// TEMPORARY: Period belongs to budget.go, written on another branch with
// this exact shape. This stand-in only lets the pacer compile and be tested
// on its own; drop this file at merge.

import "time"

// Period is the span a budget covers: the whole life of the account
// (total, the zero value) or one day at a time.
type Period struct {
	Daily    bool
	Location *time.Location // nil means UTC
	Reset    time.Duration  // the day starts this long after local midnight
}

// DailyPeriod returns a daily period in loc that starts reset after local
// midnight.
func DailyPeriod(loc *time.Location, reset time.Duration) Period {
	return Period{Daily: true, Location: loc, Reset: reset}
}

// Start returns the start of the period holding t; the zero time for total.
func (p Period) Start(t time.Time) time.Time {
	if !p.Daily {
		return time.Time{}
	}
	y, m, d := p.day(t)
	return p.dayStart(y, m, d)
}

// Next returns the start of the period following the one holding t; the
// zero time for total.
func (p Period) Next(t time.Time) time.Time {
	if !p.Daily {
		return time.Time{}
	}
	y, m, d := p.day(t)
	return p.dayStart(y, m, d+1)
}

// day returns the local date whose period holds t.
func (p Period) day(t time.Time) (int, time.Month, int) {
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	y, m, d := t.In(loc).Date()
	for p.dayStart(y, m, d).After(t) {
		d--
	}
	for !p.dayStart(y, m, d+1).After(t) {
		d++
	}
	return y, m, d
}

func (p Period) dayStart(y int, m time.Month, d int) time.Time {
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	return time.Date(y, m, d, 0, 0, 0, 0, loc).Add(p.Reset)
}
