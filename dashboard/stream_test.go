package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// streamWriter is a ResponseWriter a test reads while the handler writes.
type streamWriter struct {
	mu      sync.Mutex
	header  http.Header
	buf     bytes.Buffer
	flushes int
}

func (w *streamWriter) Header() http.Header { return w.header }
func (w *streamWriter) WriteHeader(int)     {}
func (w *streamWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(b)
}

func (w *streamWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushes++
}

func (w *streamWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// event is one server-sent event.
type event struct{ kind, data string }

func events(t *testing.T, stream string) []event {
	t.Helper()
	var out []event
	for _, block := range strings.Split(stream, "\n\n") {
		if block == "" {
			continue
		}
		var e event
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event: "):
				e.kind = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				require.Empty(t, e.data, "one data line an event")
				e.data = strings.TrimPrefix(line, "data: ")
			case strings.HasPrefix(line, "retry: "):
			default:
				t.Fatalf("unexpected line %q", line)
			}
		}
		out = append(out, e)
	}
	return out
}

// open starts streaming d's events into a streamWriter; cancel ends the
// request, and done is closed when the handler returned.
func open(d *Dashboard) (w *streamWriter, cancel context.CancelFunc, done chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	w = &streamWriter{header: http.Header{}}
	done = make(chan struct{})
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/events", nil)
	go func() {
		defer close(done)
		d.ServeHTTP(w, r)
	}()
	return w, cancel, done
}

func (d *Dashboard) isRunning() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running
}

func TestEventStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, err := New(WithHistory(60))
		require.NoError(t, err)
		defer d.Close()
		assert.False(t, d.isRunning(), "no ticker before a page connects")

		w, cancel, done := open(d)
		synctest.Wait()
		assert.True(t, d.isRunning())
		assert.Equal(t, "text/event-stream", w.header.Get("Content-Type"))
		time.Sleep(time.Second / 2) // the traffic comes between frames
		for range 10 {
			traffic(d)
			time.Sleep(time.Second)
		}
		synctest.Wait()
		evs := events(t, w.String())
		require.NotEmpty(t, evs)
		assert.Equal(t, "hello", evs[0].kind)
		var h hello
		require.NoError(t, json.Unmarshal([]byte(evs[0].data), &h))
		assert.Equal(t, hello{Stream: d.stream, Title: "gavel", History: 60}, h)
		frames := evs[1:]
		assert.Len(t, frames, 10, "a frame a second, for 10 seconds")
		var last int64
		for _, e := range frames {
			assert.Equal(t, "frame", e.kind)
			var f frame
			require.NoError(t, json.Unmarshal([]byte(e.data), &f))
			assert.GreaterOrEqual(t, f.Time-last, int64(1000), "at most a frame a second")
			last = f.Time
			assert.Equal(t, 6.0, f.Auctions.Rate*f.Secs, "each second's traffic: 6 auctions")
		}

		// A second page gets the history first.
		w2, cancel2, done2 := open(d)
		synctest.Wait()
		evs2 := events(t, w2.String())
		require.Len(t, evs2, 11)
		assert.Equal(t, frames, evs2[1:])
		cancel2()
		<-done2

		// The last page goes: so does the ticker.
		cancel()
		<-done
		synctest.Wait()
		assert.False(t, d.isRunning(), "no ticker without a page")
		time.Sleep(5 * time.Second)
		assert.Equal(t, 10, len(events(t, w.String()))-1, "nothing sent after the page went")
	})
}

func TestCloseEndsStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, err := New()
		require.NoError(t, err)
		_, cancel, done := open(d)
		defer cancel()
		time.Sleep(3 * time.Second)
		require.NoError(t, d.Close())
		<-done // the handler returned
		assert.False(t, d.isRunning())

		w := httptest.NewRecorder()
		d.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/events", nil))
		assert.Equal(t, http.StatusServiceUnavailable, w.Code, "a closed Dashboard streams nothing")
		require.NoError(t, d.Close(), "Close is idempotent")
	})
}

func TestSlowPageDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d, err := New()
		require.NoError(t, err)
		defer d.Close()
		s, _, err := d.subscribe() // never reads
		require.NoError(t, err)
		time.Sleep((subscriberBuffer + 2) * time.Second)
		synctest.Wait()
		_, ok := <-drain(s.frames)
		assert.False(t, ok, "dropped once its buffer was full")
		d.mu.Lock()
		assert.Empty(t, d.subs)
		d.mu.Unlock()
		d.unsubscribe(s)
	})
}

// drain reads ch until it is closed or empty, and returns it.
func drain(ch chan []byte) chan []byte {
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return ch
			}
		default:
			return ch
		}
	}
}

func TestServeHTTPRoutes(t *testing.T) {
	d := newDashboard(t)
	mux := http.NewServeMux()
	mux.Handle("/dash/", http.StripPrefix("/dash", d))
	for _, tt := range []struct {
		method, path string
		code         int
		contentType  string
		contains     string
	}{
		{"GET", "/dash/", 200, "text/html; charset=utf-8", `src="assets/dashboard.js"`},
		{"HEAD", "/dash/", 200, "text/html; charset=utf-8", ""},
		{"GET", "/dash", http.StatusTemporaryRedirect, "", ""}, // by the mux
		{"GET", "/dash/assets/dashboard.js", 200, "text/javascript; charset=utf-8", "EventSource(\"events\")"},
		{"GET", "/dash/assets/uplot/uPlot.iife.min.js", 200, "text/javascript; charset=utf-8", "uPlot"},
		{"GET", "/dash/assets/uplot/uPlot.min.css", 200, "text/css; charset=utf-8", ".uplot"},
		{"GET", "/dash/assets/uplot/LICENSE", 200, "", "MIT License"},
		{"GET", "/dash/nothing", 404, "", ""},
		{"GET", "/dash/assets/", 404, "", ""},
		{"GET", "/dash/assets/uplot/", 404, "", ""},
		{"HEAD", "/dash/events", 200, "text/event-stream", ""},
		{"POST", "/dash/", 405, "", ""},
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(tt.method, tt.path, nil))
		assert.Equal(t, tt.code, w.Code, "%s %s", tt.method, tt.path)
		if tt.contentType != "" {
			assert.Equal(t, tt.contentType, w.Header().Get("Content-Type"), tt.path)
		}
		assert.Contains(t, w.Body.String(), tt.contains, tt.path)
	}
}
