package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Defaults of a run.
const (
	DefaultTimeout = 2 * time.Second
	DefaultMaxBody = 1 << 20 // bytes of an answer read at most
	// maxWorkers bounds vegeta's workers in rate mode: an exchange slower
	// than the rate gets this many requests in flight, no more.
	maxWorkers = 10000
)

// Config is one run: where to send, how much and how fast.
type Config struct {
	URL         string
	Rate        int           // requests per second (open loop); 0 with Concurrency
	Concurrency int           // fixed number of requests in flight (closed loop); 0 with Rate
	Duration    time.Duration // how long to send; 0: until Count
	Count       uint64        // how many requests; 0: until Duration
	Timeout     time.Duration // per request
	Gen         Generator
	Progress    io.Writer // where the progress bar goes; nil: none
}

func (c Config) validate() error {
	var errs []error
	if !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		errs = append(errs, fmt.Errorf("-url %q: want an http:// or https:// URL", c.URL))
	}
	if (c.Rate > 0) == (c.Concurrency > 0) {
		errs = append(errs, errors.New("give exactly one of -rate and -concurrency, above 0"))
	}
	if c.Rate < 0 || c.Concurrency < 0 {
		errs = append(errs, errors.New("-rate and -concurrency must not be negative"))
	}
	if (c.Duration > 0) == (c.Count > 0) {
		errs = append(errs, errors.New("give exactly one of -duration and -count, above 0"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("-timeout %v: must be above 0", c.Timeout))
	}
	if c.Gen.Invalid < 0 || c.Gen.Invalid > 1 {
		errs = append(errs, fmt.Errorf("-invalid %v: must be in [0, 1]", c.Gen.Invalid))
	}
	return errors.Join(errs...)
}

// Run sends the requests c describes with vegeta's attacker and returns
// their Summary. It stops early, with what it has, when ctx is done.
func Run(ctx context.Context, c Config) (*Summary, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	t := newTargets(c)
	client := newClient(c)
	defer client.CloseIdleConnections()
	atk := vegeta.NewAttacker(attackerOpts(c, client)...)
	results := atk.Attack(t.next, countPacer{pacer(c), c.Count}, c.Duration, "loadgen")
	bar := newBar(c)
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	s := &Summary{}
	for res := range results {
		s.Add(res, t.expect(res.URL))
		if bar != nil {
			_ = bar.Add(1)
		}
	}
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(c.Progress)
	}
	s.Close()
	return s, nil
}

// attackerOpts sets vegeta's workers and its client: ours, so that its
// idle connections are closed when the run ends.
func attackerOpts(c Config, client *http.Client) []func(*vegeta.Attacker) {
	opts := []func(*vegeta.Attacker){vegeta.Client(client), vegeta.MaxBody(DefaultMaxBody)}
	if c.Concurrency > 0 {
		n := uint64(c.Concurrency)
		return append(opts, vegeta.Workers(n), vegeta.MaxWorkers(n))
	}
	return append(opts, vegeta.MaxWorkers(maxWorkers))
}

// newClient is an HTTP client that keeps a connection per worker, follows
// no redirect and gives up on a request after c.Timeout.
func newClient(c Config) *http.Client {
	conns := max(c.Concurrency, 1000)
	return &http.Client{
		Timeout: c.Timeout,
		Transport: &http.Transport{
			MaxIdleConns:        conns,
			MaxIdleConnsPerHost: conns,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// pacer is c's rate; the zero rate in concurrency mode, which with
// Workers = MaxWorkers makes vegeta send as fast as its fixed workers
// are answered.
func pacer(c Config) vegeta.Pacer {
	if c.Concurrency > 0 {
		return vegeta.ConstantPacer{}
	}
	return vegeta.ConstantPacer{Freq: c.Rate, Per: time.Second}
}

// countPacer stops p after max hits (0: never).
type countPacer struct {
	p   vegeta.Pacer
	max uint64
}

func (c countPacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if c.max > 0 && hits >= c.max {
		return 0, true
	}
	return c.p.Pace(elapsed, hits)
}

// Rate is p's rate.
func (c countPacer) Rate(elapsed time.Duration) float64 { return c.p.Rate(elapsed) }

// targets hands vegeta one generated request per call. Each target's URL
// carries its number in a fragment, which is never sent but comes back in
// the Result's URL: so each answer is checked against its own request.
type targets struct {
	url    string
	gen    Generator
	header http.Header

	mu      sync.Mutex
	n       uint64
	pending map[uint64]Expect
}

func newTargets(c Config) *targets {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("X-Openrtb-Version", "2.6")
	return &targets{url: c.URL, gen: c.Gen, header: h, pending: map[uint64]Expect{}}
}

func (t *targets) next(tgt *vegeta.Target) error {
	t.mu.Lock()
	n := t.n
	t.n++
	t.mu.Unlock()
	body, exp := t.gen.Make(n)
	t.mu.Lock()
	t.pending[n] = exp
	t.mu.Unlock()
	*tgt = vegeta.Target{Method: http.MethodPost, URL: t.url + "#" + strconv.FormatUint(n, 10), Body: body, Header: t.header}
	return nil
}

// expect returns, and forgets, what was expected of the request sent to
// url. A result with no target (none was made) expects nothing.
func (t *targets) expect(url string) Expect {
	i := strings.LastIndexByte(url, '#')
	n, err := strconv.ParseUint(url[i+1:], 10, 64)
	if i < 0 || err != nil {
		return Expect{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	exp := t.pending[n]
	delete(t.pending, n)
	return exp
}

// newBar is a bar over the count, or the duration in seconds' worth of
// requests at the rate; a spinner when the total is unknown.
func newBar(c Config) *progressbar.ProgressBar {
	if c.Progress == nil {
		return nil
	}
	total := int64(c.Count)
	if total == 0 && c.Rate > 0 {
		total = int64(c.Duration.Seconds() * float64(c.Rate))
	}
	if total == 0 {
		total = -1
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(c.Progress),
		progressbar.OptionSetDescription("requests"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("req"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetWidth(30),
	)
}
