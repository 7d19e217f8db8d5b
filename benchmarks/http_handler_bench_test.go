package benchmarks_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"testing"

	"github.com/prebid/openrtb/v20/openrtb2"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/benchmarks"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// BenchmarkAuctionHandler measures gavelhttp.AuctionHandler serving the
// fixture's request (JSON, in memory: no socket) with N in-process bidders,
// against what it must be compared with:
//
//   - handler=bare: an http.Handler that only decodes the same request with
//     encoding/json (json.NewDecoder on the body) and encodes a fixed
//     response (the auction's BidResponse, built once) with json.Encoder:
//     the least any JSON endpoint does.
//   - handler=gavel: the AuctionHandler, the auction included.
//   - handler=run: the auction alone, Auction.Run on the decoded request and
//     Result.BidResponse, as the handler calls them.
//
// The handler's own overhead is gavel − run, to be compared with bare
// (ns/op, B/op and allocs/op alike). With gzip=on the request is sent
// gzipped and the answer accepted gzipped; the bare handler then wraps the
// body in a gzip.Reader and the response in a gzip.Writer of its own each
// time, as a handler without pools does. Both handlers get the same reused
// *http.Request, whose body is rewound each time, and a ResponseWriter that
// counts what it is given, so that neither pays for the test harness.
func BenchmarkAuctionHandler(b *testing.B) {
	for _, gz := range []bool{false, true} {
		for _, n := range []int{1, 8} {
			b.Run("gzip="+onOff(gz)+"/bidders="+strconv.Itoa(n)+"/imps=3", func(b *testing.B) {
				benchAuctionHandler(b, n, gz)
			})
		}
	}
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func benchAuctionHandler(b *testing.B, n int, gz bool) {
	f := newFixture(b, n, 3)
	a := newAuction(b, f)
	body, err := json.Marshal(f.Request)
	if err != nil {
		b.Fatal(err)
	}
	res, err := a.Run(context.Background(), f.Request)
	if err != nil {
		b.Fatal(err)
	}
	fixed := res.BidResponse()
	gavelH, err := gavelhttp.NewAuctionHandler(a)
	if err != nil {
		b.Fatal(err)
	}
	sent := body
	if gz {
		sent = gzipBytes(b, body)
	}
	b.Run("handler=bare", func(b *testing.B) { serveLoop(b, bareHandler(fixed), sent, gz, fixed) })
	b.Run("handler=gavel", func(b *testing.B) {
		serveLoop(b, gavelH, sent, gz, fixed)
		if st := gavelH.Stats(); st.Won != st.Decoded || st.Won == 0 {
			b.Fatalf("stats %+v: not every auction won", st)
		}
	})
	b.Run("handler=run", func(b *testing.B) {
		req := new(openrtb2.BidRequest)
		if err := json.Unmarshal(body, req); err != nil {
			b.Fatal(err)
		}
		runLoopResponse(b, a, f, req)
	})
}

func gzipBytes(tb testing.TB, p []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(p); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// bareHandler decodes the request and answers resp, whatever the request.
func bareHandler(resp *openrtb2.BidResponse) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		var req openrtb2.BidRequest
		if err := json.NewDecoder(body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Accept-Encoding") != "gzip" {
			_ = json.NewEncoder(w).Encode(resp)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_ = json.NewEncoder(zw).Encode(resp)
		_ = zw.Close()
	})
}

// serveLoop serves body to h b.N times and checks that the last answer
// is a 200 with want.
func serveLoop(b *testing.B, h http.Handler, body []byte, gz bool, want *openrtb2.BidResponse) {
	b.Helper()
	rd := &rewindBody{}
	r, err := http.NewRequest(http.MethodPost, "/openrtb2/auction", rd)
	if err != nil {
		b.Fatal(err)
	}
	r.ContentLength = int64(len(body))
	if gz {
		r.Header.Set("Content-Encoding", "gzip")
		r.Header.Set("Accept-Encoding", "gzip")
	}
	w := &countingWriter{h: http.Header{}}
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		rd.Reset(body)
		w.reset()
		h.ServeHTTP(w, r)
	}
	cpu.report(b)

	// The check: one more request, its answer kept.
	rd.Reset(body)
	w.reset()
	w.keep = true
	h.ServeHTTP(w, r)
	if w.status != http.StatusOK {
		b.Fatalf("status %d: %s", w.status, w.body.String())
	}
	var answer io.Reader = &w.body
	if gz != (w.h.Get("Content-Encoding") == "gzip") {
		b.Fatalf("gzip=%v, Content-Encoding %q", gz, w.h.Get("Content-Encoding"))
	}
	if gz {
		zr, err := gzip.NewReader(answer)
		if err != nil {
			b.Fatal(err)
		}
		answer = zr
	}
	var got openrtb2.BidResponse
	if err := json.NewDecoder(answer).Decode(&got); err != nil {
		b.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	gotJSON, _ := json.Marshal(&got)
	if !bytes.Equal(wantJSON, gotJSON) {
		b.Fatalf("response\n%s\nwant\n%s", gotJSON, wantJSON)
	}
}

// runLoopResponse measures Run and BidResponse on req.
func runLoopResponse(b *testing.B, a *gavel.Auction, f *benchmarks.Fixture, req *openrtb2.BidRequest) {
	b.Helper()
	ctx := context.Background()
	b.ReportAllocs()
	var res *gavel.Result
	var err error
	cpu := startCPU()
	for b.Loop() {
		res, err = a.Run(ctx, req)
		if err == nil {
			_ = res.BidResponse()
		}
	}
	cpu.report(b)
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Check(res); err != nil {
		b.Fatal(err)
	}
}

// rewindBody is a request body that can be read again.
type rewindBody struct{ bytes.Reader }

func (*rewindBody) Close() error { return nil }

// countingWriter is an http.ResponseWriter that keeps the status and, when
// asked, the body.
type countingWriter struct {
	h      http.Header
	status int
	n      int
	keep   bool
	body   bytes.Buffer
}

func (w *countingWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

func (w *countingWriter) Header() http.Header { return w.h }

func (w *countingWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	if w.keep {
		w.body.Write(p)
	}
	return len(p), nil
}

// BenchmarkAuctionHandlerShed measures the handler's answer to a request
// it sheds: WithMaxInFlight(1), with the one place held by a request whose
// body blocks until the benchmark ends. Every answer must be a 204 with
// Gavel-Shed, and the handler must count each one.
func BenchmarkAuctionHandlerShed(b *testing.B) {
	f := newFixture(b, 1, 3)
	a := newAuction(b, f)
	h, err := gavelhttp.NewAuctionHandler(a, gavelhttp.WithMaxInFlight(1))
	if err != nil {
		b.Fatal(err)
	}
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		r, _ := http.NewRequest(http.MethodPost, "/openrtb2/auction", blockingBody(release))
		h.ServeHTTP(&countingWriter{h: http.Header{}}, r)
	}()
	for h.Stats().InFlight == 0 {
		runtime.Gosched()
	}
	defer func() { close(release); <-done }()

	body, err := json.Marshal(f.Request)
	if err != nil {
		b.Fatal(err)
	}
	rd := &rewindBody{}
	r, err := http.NewRequest(http.MethodPost, "/openrtb2/auction", rd)
	if err != nil {
		b.Fatal(err)
	}
	w := &countingWriter{h: http.Header{}}
	shed := h.Stats().Shed
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		rd.Reset(body)
		w.reset()
		h.ServeHTTP(w, r)
	}
	cpu.report(b)
	if w.status != http.StatusNoContent || w.h.Get(gavelhttp.HeaderShed) != "1" {
		b.Fatalf("status %d, %s %q: not shed", w.status, gavelhttp.HeaderShed, w.h.Get(gavelhttp.HeaderShed))
	}
	if n := h.Stats().Shed - shed; n != int64(b.N) {
		b.Fatalf("%d requests shed of %d", n, b.N)
	}
}

// blockingBody is a request body whose Read blocks until release is
// closed, then reports EOF.
type blockingBody chan struct{}

func (c blockingBody) Read([]byte) (int, error) {
	<-c
	return 0, io.EOF
}

func (blockingBody) Close() error { return nil }
