package dashboard

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Event stream: a page gets a "hello" event naming the stream, then every
// frame in the history, oldest first, then a frame a second, each a
// "frame" event whose data is one JSON object.
const (
	// subscriberBuffer is how many frames a page may fall behind before it
	// is dropped; its EventSource reconnects and gets the history again.
	subscriberBuffer = 8
	// writeTimeout bounds each write to a page.
	writeTimeout = 10 * time.Second
	// retryMillis is how long a page waits before reconnecting.
	retryMillis = 1000
)

type subscriber struct {
	frames chan []byte // closed when the page fell too far behind
}

// hello is the first event of a stream.
type hello struct {
	Stream  string `json:"stream"`  // the Dashboard's id
	Title   string `json:"title"`   // WithTitle
	History int    `json:"history"` // WithHistory: the most frames a chart holds
}

var errClosed = errors.New("gavel: dashboard: closed")

// subscribe adds a page and returns the history, oldest first; it starts
// the ticker if the page is the only one.
func (d *Dashboard) subscribe() (*subscriber, [][]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, nil, errClosed
	}
	s := &subscriber{frames: make(chan []byte, subscriberBuffer)}
	d.subs[s] = struct{}{}
	history := make([][]byte, 0, len(d.ring))
	history = append(history, d.ring[d.next:]...)
	history = append(history, d.ring[:d.next]...)
	if !d.running {
		d.running = true
		d.wg.Add(1)
		go d.tick()
	}
	return s, history, nil
}

// unsubscribe removes a page and, if it was the last, wakes the ticker to
// stop.
func (d *Dashboard) unsubscribe(s *subscriber) {
	d.mu.Lock()
	delete(d.subs, s)
	last := len(d.subs) == 0
	d.mu.Unlock()
	if last {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// tick builds a frame a second and sends it to every page, as long as one
// is connected.
func (d *Dashboard) tick() {
	defer d.wg.Done()
	d.build(d.ctx, d.readings, time.Now()) // the baseline, after a pause
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-d.done:
			d.idle() // marks the ticker stopped
			return
		case <-d.wake:
			if d.idle() {
				return
			}
			continue
		case <-t.C:
		}
		if d.idle() {
			return
		}
		b, err := json.Marshal(d.build(d.ctx, d.readings, time.Now()))
		if err != nil {
			continue // cannot happen: a frame has nothing JSON refuses
		}
		d.publish(b)
	}
}

// idle reports whether no page is connected, and then marks the ticker
// stopped.
func (d *Dashboard) idle() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.subs) > 0 && !d.closed {
		return false
	}
	d.running = false
	return true
}

// publish keeps b in the history and sends it to every page; a page whose
// buffer is full is dropped.
func (d *Dashboard) publish(b []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.ring) < d.cfg.history {
		d.ring = append(d.ring, b)
	} else {
		d.ring[d.next] = b
		d.next = (d.next + 1) % len(d.ring)
	}
	for s := range d.subs {
		select {
		case s.frames <- b:
		default:
			delete(d.subs, s)
			close(s.frames)
		}
	}
}

// serveEvents streams frames to a page until it goes, falls behind, or
// the Dashboard closes.
func (d *Dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	s, history, err := d.subscribe()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer d.unsubscribe(s)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // for a proxy in front
	rc := http.NewResponseController(w)
	hi, _ := json.Marshal(hello{Stream: d.stream, Title: d.cfg.title, History: d.cfg.history})
	if !send(w, rc, "hello", hi, history...) {
		return
	}
	for {
		select {
		case b, ok := <-s.frames:
			if !ok || !send(w, rc, "frame", b) {
				return
			}
		case <-r.Context().Done():
			return
		case <-d.done:
			return
		}
	}
}

// send writes one event of kind with data, then a frame event for each of
// frames, and flushes them; it reports whether that worked.
func send(w http.ResponseWriter, rc *http.ResponseController, kind string, data []byte, frames ...[]byte) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout)) // not every ResponseWriter has one
	buf := make([]byte, 0, 64+len(data))
	if kind == "hello" {
		buf = append(buf, "retry: "...)
		buf = strconv.AppendInt(buf, retryMillis, 10)
		buf = append(buf, '\n')
	}
	buf = appendEvent(buf, kind, data)
	for _, f := range frames {
		buf = appendEvent(buf, "frame", f)
	}
	if _, err := w.Write(buf); err != nil {
		return false
	}
	return rc.Flush() == nil
}

func appendEvent(buf []byte, kind string, data []byte) []byte {
	buf = append(buf, "event: "...)
	buf = append(buf, kind...)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, data...) // JSON from encoding/json has no newline
	return append(buf, "\n\n"...)
}
