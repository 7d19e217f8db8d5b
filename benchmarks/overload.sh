#!/usr/bin/env bash
# Overload: the example exchange (demo bidders; -asap, so that the demo
# budgets' pacing does not leave the bidders out early in the UTC day) at
# twice its sustainable rate, driven by the load generator (open loop) on
# the same machine. See README.md, "Overload".
#
#   bash benchmarks/overload.sh              # find the sustainable rate, then run at twice it
#   RATE=900 bash benchmarks/overload.sh     # run at twice 900 a second
#
# Settings, from the environment:
#   RATE           the sustainable rate; unset: found by rising steps of STEP_RATE
#                  a second, each STEP long, while every request is answered
#                  right, the sender keeps its rate and p99 stays within 3/4 of tmax
#   STEP_RATE      250       STEP  5s
#   MAX_IN_FLIGHT  the exchange's -max-in-flight at twice the rate; unset: the
#                  auctions in flight at the sustainable rate (Little's law: the
#                  rate times its mean latency), rounded up
#   SHED_STATUS    204 (or 503)
#   DURATION       10s, of the run at twice the rate
#   TMAX           200, the requests' tmax in ms: accepted auctions' p99 must be within it
#   MAX_SHED_P99   1ms, the shed answers' p99 limit (0: none)
#   FLOOR          1: then the same load against benchmarks/cmd/shedfloor, a server
#                  that sheds every request and does nothing else: the floor of a
#                  shed answer on this machine, printed, not judged (0: skip it)
#   BIN            a directory holding exchange, loadgen (and shedfloor) already built;
#                  unset: built here
#
# It fails (exit 1) on any wrong answer, an accepted p99 above tmax, a shed
# p99 above MAX_SHED_P99, more goroutines in the exchange after the run than
# before it, no request shed, or an exchange that does not exit 0 on SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."

STEP_RATE=${STEP_RATE:-250}
STEP=${STEP:-5s}
SHED_STATUS=${SHED_STATUS:-204}
DURATION=${DURATION:-10s}
TMAX=${TMAX:-200}
MAX_SHED_P99=${MAX_SHED_P99:-1ms}
FLOOR=${FLOOR:-1}

work=$(mktemp -d)
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

bin=${BIN:-}
if [ -z "$bin" ]; then
	bin=$work/bin
	go build -o "$bin/exchange" ./examples/exchange
	go build -o "$bin/loadgen" ./examples/loadgen
	go build -o "$bin/shedfloor" ./benchmarks/cmd/shedfloor
fi

# start_exchange ARGS...: starts the exchange on a free port of 127.0.0.1
# and waits for /readyz; sets pid and base.
start_exchange() {
	"$bin/exchange" -asap -addr 127.0.0.1:0 -events "$work/events.jsonl" "$@" >"$work/exchange.out" 2>&1 &
	pid=$!
	base=""
	for _ in $(seq 100); do
		base=$(sed -n 's/^gavel exchange on \(http:[^ ]*\)$/\1/p' "$work/exchange.out" 2>/dev/null || true)
		if [ -n "$base" ] && curl -sf "$base/readyz" >/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "exchange not ready:" >&2
	cat "$work/exchange.out" >&2
	return 1
}

# stop_exchange: SIGTERM, and the exchange must exit 0.
stop_exchange() {
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	pid=""
	if [ "$rc" -ne 0 ]; then
		echo "FAIL exchange exited $rc after SIGTERM:" >&2
		cat "$work/exchange.out" >&2
		return 1
	fi
}

goroutines() { curl -sf "$base/metrics" | awk '$1 == "go_goroutines" { print $2 }'; }

# loadgen ARGS...: the load generator against the exchange, its output in
# $work/loadgen.out; returns its exit code.
loadgen() {
	local rc=0
	"$bin/loadgen" -url "$base/openrtb2/auction" -tmax "$TMAX" -quiet "$@" >"$work/loadgen.out" 2>&1 || rc=$?
	return "$rc"
}

# sent: the rate the last run achieved; mean_ms: its mean latency in ms.
sent() { sed -n 's/^requests .*(\([0-9.]*\)\/s sent.*/\1/p' "$work/loadgen.out"; }
mean_ms() {
	sed -n 's/^latency .* mean \([0-9.]*\)\([µm]*s\)$/\1 \2/p' "$work/loadgen.out" |
		awk '{ v = $1; if ($2 == "s") v *= 1000; else if ($2 == "µs") v /= 1000; print v }'
}

if [ -z "${RATE:-}" ]; then
	echo "== sustainable rate: steps of $STEP_RATE/s, $STEP each, no shedding, p99 within $((TMAX * 3 / 4))ms"
	start_exchange -max-in-flight 1000000
	rate=$STEP_RATE
	RATE=""
	mean=""
	while :; do
		ok=1
		loadgen -rate "$rate" -duration "$STEP" -max-p99 "$((TMAX * 3 / 4))ms" || ok=0
		if [ "$ok" = 1 ] && ! awk -v s="$(sent)" -v r="$rate" 'BEGIN { exit !(s >= 0.98 * r) }'; then ok=0; fi
		printf '%6d/s  %s  %s\n' "$rate" "$([ $ok = 1 ] && echo ok || echo past)" "$(grep '^latency' "$work/loadgen.out")"
		if [ "$ok" = 0 ]; then break; fi
		RATE=$rate
		mean=$(mean_ms)
		rate=$((rate + STEP_RATE))
	done
	stop_exchange
	if [ -z "$RATE" ]; then
		echo "FAIL not even $STEP_RATE/s is sustained" >&2
		exit 1
	fi
	echo "sustainable: $RATE/s (mean latency ${mean}ms)"
	if [ -z "${MAX_IN_FLIGHT:-}" ]; then
		MAX_IN_FLIGHT=$(awk -v r="$RATE" -v m="$mean" 'BEGIN { n = r * m / 1000; print (n == int(n)) ? n : int(n) + 1 }')
	fi
fi
if [ -z "${MAX_IN_FLIGHT:-}" ]; then
	echo "MAX_IN_FLIGHT must be set with RATE" >&2
	exit 2
fi

twice=$((2 * RATE))
echo "== overload: $twice/s (twice $RATE/s) for $DURATION, -max-in-flight $MAX_IN_FLIGHT -shed-status $SHED_STATUS"
start_exchange -max-in-flight "$MAX_IN_FLIGHT" -shed-status "$SHED_STATUS"
# A few requests first: what starts on the first auction, event or notice
# is running before the count is taken.
loadgen -rate 50 -count 50 >/dev/null || true
sleep 1
before=$(goroutines)
fail=0
loadgen -rate "$twice" -duration "$DURATION" -max-p99 "${TMAX}ms" -max-shed-p99 "$MAX_SHED_P99" -max-errors 0 || fail=1
grep -v '^  request' "$work/loadgen.out"
# The loadgen's connections are closed; their goroutines end shortly.
after=$(goroutines)
for _ in $(seq 50); do
	[ "$after" -le "$before" ] && break
	sleep 0.1
	after=$(goroutines)
done
echo "goroutines  $before before, $after after"
if [ "$after" -gt "$before" ]; then
	echo "FAIL goroutines grew from $before to $after"
	fail=1
fi
if ! grep -q '^shed ' "$work/loadgen.out"; then
	echo "FAIL nothing was shed"
	fail=1
fi
if stop_exchange; then
	echo "exchange    exited 0 after SIGTERM"
else
	fail=1
fi

if [ "$FLOOR" = 1 ]; then
	echo "== floor: $twice/s against shedfloor, which sheds every request and does nothing else"
	"$bin/shedfloor" -addr 127.0.0.1:0 >"$work/shedfloor.out" 2>&1 &
	pid=$!
	base=""
	for _ in $(seq 100); do
		base=$(sed -n 's/^shedfloor on \(http:[^ ]*\)$/\1/p' "$work/shedfloor.out" 2>/dev/null || true)
		[ -n "$base" ] && break
		sleep 0.1
	done
	loadgen -rate "$twice" -duration "$DURATION" || true
	grep -E '^(requests|shed) ' "$work/loadgen.out"
	kill -TERM "$pid"
	wait "$pid" || true
	pid=""
fi
exit "$fail"
