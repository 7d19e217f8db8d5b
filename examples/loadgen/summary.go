package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// maxExamples is how many failed checks a Summary keeps to show.
const maxExamples = 5

// Summary gathers the results of a run: vegeta's Metrics (throughput,
// status codes, mean latency), the latency quantiles from HDR histograms
// (All, Accepted, ShedLatencies), and the outcome of Check for every
// answer. Not safe for concurrent use: one goroutine
// adds the results.
type Summary struct {
	Metrics     vegeta.Metrics
	P999        time.Duration // the 99.9th percentile latency of All, set by Close
	Transport   int           // requests with no answer (connection error, timeout)
	WrongStatus int           // answers Check refused for their status
	BadBodies   int           // 200s to valid requests Check refused for their body
	Invalid     int           // invalid requests sent
	Shed        int           // answers that shed their request (see Shed): right, and timed apart
	Examples    []string      // the first failures, at most maxExamples

	// All are the latencies of every request; Accepted those of the
	// requests not shed (answered or not), ShedLatencies those of the shed
	// answers: under overload, the auctions the exchange ran must keep
	// their deadline and the shed answers must be fast, two things the
	// overall quantiles mix up.
	All, Accepted, ShedLatencies Latencies
}

// Latencies are the latencies of one kind of answer in an HDR histogram
// (HdrHistogram's Go port): microseconds from 1 µs to a minute with three
// significant digits, so a quantile is within 0.1% of the latency it
// reports, whatever the spread, in a fixed 400 KB or so. Longer latencies
// are recorded as a minute; Max is exact.
type Latencies struct {
	N   int
	h   *hdrhistogram.Histogram
	max time.Duration
}

// Bounds of the histograms, in microseconds.
const (
	histMin    = 1
	histMax    = int64(time.Minute / time.Microsecond)
	histDigits = 3
)

func (l *Latencies) add(d time.Duration) {
	if l.h == nil {
		l.h = hdrhistogram.New(histMin, histMax, histDigits)
	}
	l.N++
	us := min(max(d.Microseconds(), histMin), histMax)
	_ = l.h.RecordValue(us) // in range by construction
	l.max = max(l.max, d)
}

// Quantile is the q-th quantile (q in [0, 1]), 0 when there is none.
func (l *Latencies) Quantile(q float64) time.Duration {
	if l.N == 0 {
		return 0
	}
	return time.Duration(l.h.ValueAtQuantile(q*100)) * time.Microsecond
}

// Max is the longest latency, exactly.
func (l *Latencies) Max() time.Duration { return l.max }

// Add counts one result and the verdict of Check on it (nil when the
// request got no answer at all: res.Code 0).
func (s *Summary) Add(res *vegeta.Result, exp Expect) {
	s.Metrics.Add(res)
	s.All.add(res.Latency)
	if exp.Invalid != "" {
		s.Invalid++
	}
	if res.Code != 0 && Shed(int(res.Code), res.Headers) {
		s.Shed++
		s.ShedLatencies.add(res.Latency)
		return
	}
	s.Accepted.add(res.Latency)
	var err error
	if res.Code == 0 {
		s.Transport++
		err = fmt.Errorf("request %s: %s", exp.ID, res.Error)
	} else if err = Check(exp, int(res.Code), res.Body); err != nil {
		if errors.Is(err, ErrBadResponse) {
			s.BadBodies++
		} else {
			s.WrongStatus++
		}
		err = fmt.Errorf("request %s: %w", exp.ID, err)
	}
	if err != nil && len(s.Examples) < maxExamples {
		s.Examples = append(s.Examples, err.Error())
	}
}

// Close computes the metrics; call it once, after the last Add.
func (s *Summary) Close() {
	s.Metrics.Close()
	s.P999 = s.All.Quantile(0.999)
}

// Errors is the number of requests that went wrong: no answer, or an
// answer Check refused.
func (s *Summary) Errors() int { return s.Transport + s.WrongStatus + s.BadBodies }

// Thresholds decide whether a run passed.
type Thresholds struct {
	MaxP99     time.Duration // p99 latency of the requests not shed above it fails; 0: no limit
	MaxShedP99 time.Duration // p99 latency of the shed answers above it fails; 0: no limit
	MaxErrors  float64       // share of errors above it fails, in [0, 1]
}

// Exit codes of the command.
const (
	ExitOK     = 0 // every threshold held and no 200 was invalid
	ExitFailed = 1 // a threshold was passed or a 200 was invalid
	ExitUsage  = 2 // bad flags, or the run could not start
)

// Verdict returns the exit code for s under t and the reasons it fails.
// Any invalid 200 fails, whatever MaxErrors allows.
func (t Thresholds) Verdict(s *Summary) (int, []string) {
	var why []string
	if s.BadBodies > 0 {
		why = append(why, fmt.Sprintf("%d responses with status 200 were not valid BidResponses", s.BadBodies))
	}
	if n := s.Metrics.Requests; n > 0 {
		if share := float64(s.Errors()) / float64(n); share > t.MaxErrors {
			why = append(why, fmt.Sprintf("error share %.4f above -max-errors %.4f", share, t.MaxErrors))
		}
	} else {
		why = append(why, "no request was sent")
	}
	if p99 := s.Accepted.Quantile(0.99); t.MaxP99 > 0 && p99 > t.MaxP99 {
		why = append(why, fmt.Sprintf("p99 %v of the requests not shed above -max-p99 %v", p99, t.MaxP99))
	}
	if p99 := s.ShedLatencies.Quantile(0.99); t.MaxShedP99 > 0 && p99 > t.MaxShedP99 {
		why = append(why, fmt.Sprintf("p99 %v of the shed answers above -max-shed-p99 %v", p99, t.MaxShedP99))
	}
	if len(why) > 0 {
		return ExitFailed, why
	}
	return ExitOK, nil
}

// Print writes the summary as a short report.
func (s *Summary) Print(w io.Writer) {
	m := &s.Metrics
	fmt.Fprintf(w, "requests    %d in %v (%.1f/s sent, %.1f/s answered 2xx/3xx)\n",
		m.Requests, m.Duration.Round(time.Millisecond), m.Rate, m.Throughput)
	fmt.Fprintf(w, "latency     %s  mean %v\n", quantiles(&s.All), round(m.Latencies.Mean))
	if s.Shed > 0 {
		fmt.Fprintf(w, "accepted    %d  %s\n", s.Accepted.N, quantiles(&s.Accepted))
		fmt.Fprintf(w, "shed        %d  %s\n", s.Shed, quantiles(&s.ShedLatencies))
	}
	fmt.Fprintf(w, "status      %s\n", statusLine(m.StatusCodes))
	fmt.Fprintf(w, "checks      %d invalid requests sent; %d no answer, %d wrong status, %d invalid 200s\n",
		s.Invalid, s.Transport, s.WrongStatus, s.BadBodies)
	for _, e := range s.Examples {
		fmt.Fprintf(w, "  %s\n", e)
	}
}

// quantiles formats the latency quantiles of l.
func quantiles(l *Latencies) string {
	return fmt.Sprintf("p50 %v  p90 %v  p99 %v  p99.9 %v  max %v", round(l.Quantile(0.5)),
		round(l.Quantile(0.9)), round(l.Quantile(0.99)), round(l.Quantile(0.999)), round(l.Max()))
}

// statusLine lists status codes in order with their counts; code 0 is a
// request with no answer.
func statusLine(codes map[string]int) string {
	keys := make([]string, 0, len(codes))
	for k := range codes {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x - y
	})
	line := ""
	for _, k := range keys {
		line += fmt.Sprintf("%s:%d  ", k, codes[k])
	}
	return line
}

func round(d time.Duration) time.Duration {
	if d >= time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}
