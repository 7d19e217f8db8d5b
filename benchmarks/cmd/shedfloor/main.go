// Command shedfloor is the floor of a shed answer: an HTTP server on
// 127.0.0.1 that answers every request as gavel's AuctionHandler answers a
// request it sheds (204 with Gavel-Nbr: 1 and Gavel-Shed: 1, the body
// unread) and does nothing else. The load generator's latency against it
// is what the machine, net/http and the load generator itself cost a shed
// answer: no exchange's can be lower. benchmarks/overload.sh runs it next
// to the exchange.
//
//	go run ./cmd/shedfloor -addr 127.0.0.1:0
//
// It prints "shedfloor on http://ADDR" and serves until SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/gavelrtb/gavel/gavelhttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "the address to listen on")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "shedfloor:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: http.HandlerFunc(shed), ReadHeaderTimeout: 5 * time.Second}
	fmt.Printf("shedfloor on http://%s\n", ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// shed answers as gavelhttp.AuctionHandler answers a shed request.
func shed(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set(gavelhttp.HeaderOpenRTBVersion, gavelhttp.OpenRTBVersion)
	h.Set(gavelhttp.HeaderShed, "1")
	h.Set(gavelhttp.HeaderNBR, strconv.Itoa(gavelhttp.ShedNBR))
	w.WriteHeader(http.StatusNoContent)
}
