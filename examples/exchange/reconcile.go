package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gavelrtb/gavel"
	"github.com/gavelrtb/gavel/adapters/gavelkafka"
	"github.com/gavelrtb/gavel/gavelhttp"
)

// The reconcile command: `exchange reconcile -config FILE` reads the
// billing events that the exchange of FILE wrote (its events section, or
// -events / -kafka-topic), sums them per account and period, prints the
// sums, and restores each account's committed spend in its current period
// into the ledger and the pacer of FILE's stores, after setting FILE's
// budgets on them. It is the recovery of a Redis that lost its data: no
// number is typed by hand.

// reconcileConfig is what the reconcile command's flags say.
type reconcileConfig struct {
	file           string        // -config
	events         string        // -events: a JSON lines file, instead of the config's events
	topic          string        // -kafka-topic: a topic, instead of the config's events
	brokers        []string      // -kafka-brokers; default the config's events.brokers
	dryRun         bool          // -dry-run: print, restore nothing
	allowMalformed bool          // -allow-malformed: restore although some lines were malformed
	timeout        time.Duration // -timeout: bounds the whole command
}

// DefaultReconcileTimeout bounds the reconcile command: reading the events
// and restoring.
const DefaultReconcileTimeout = 5 * time.Minute

// reconcileCLI runs the reconcile command with its arguments (those after
// "reconcile") and returns the exit code: 0 when everything was restored
// (or printed, with -dry-run), 1 when something failed, 2 for bad flags.
func reconcileCLI(args []string, stdout, stderr io.Writer) int {
	rc, err := parseReconcileFlags(args, stderr)
	if err != nil {
		if err != flag.ErrHelp {
			fmt.Fprintln(stderr, "exchange reconcile:", err)
		}
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, rc.timeout)
	defer cancel()
	err = reconcile(ctx, rc, func(conf *gavelhttp.Config) (*stores, error) { return openStores(conf.Stores) }, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "exchange reconcile:", err)
		return 1
	}
	return 0
}

func parseReconcileFlags(args []string, stderr io.Writer) (reconcileConfig, error) {
	fs := flag.NewFlagSet("exchange reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rc := reconcileConfig{}
	fs.StringVar(&rc.file, "config", "", "the exchange's config file (JSON): its budgets, stores and events; required")
	fs.StringVar(&rc.events, "events", "", "read this JSON lines file rather than the config's events")
	fs.StringVar(&rc.topic, "kafka-topic", "", "read this Kafka topic rather than the config's events")
	brokers := fs.String("kafka-brokers", "", "the Kafka seed brokers, host:port, comma-separated (default: the config's events.brokers)")
	fs.BoolVar(&rc.dryRun, "dry-run", false, "print what would be restored, restore nothing")
	fs.BoolVar(&rc.allowMalformed, "allow-malformed", false, "restore although some events could not be read (they are not counted)")
	fs.DurationVar(&rc.timeout, "timeout", DefaultReconcileTimeout, "bounds the whole command")
	if err := fs.Parse(args); err != nil {
		return reconcileConfig{}, err
	}
	switch {
	case fs.NArg() > 0:
		return reconcileConfig{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case rc.file == "":
		return reconcileConfig{}, errors.New("-config is required")
	case rc.events != "" && (rc.topic != "" || *brokers != ""):
		return reconcileConfig{}, errors.New("-events and -kafka-topic (or -kafka-brokers) exclude each other")
	case rc.timeout <= 0:
		return reconcileConfig{}, fmt.Errorf("timeout %v: want > 0", rc.timeout)
	}
	if *brokers != "" {
		rc.brokers = strings.Split(*brokers, ",")
	}
	return rc, nil
}

// reconcile does the reconcile command's work: open makes the stores of
// the config (the ledger and the pacer restored into), which reconcile
// closes.
func reconcile(ctx context.Context, rc reconcileConfig, open func(*gavelhttp.Config) (*stores, error), out io.Writer) error {
	conf, err := gavelhttp.LoadConfig(rc.file)
	if err != nil {
		return err
	}
	budgets, err := conf.AuctionBudgets()
	if err != nil {
		return err
	}
	sum, err := gavel.NewSpendSummer(budgets...)
	if err != nil {
		return err
	}
	if err := readBilling(ctx, rc, conf.Events, sum, out); err != nil {
		return err
	}
	now := time.Now()
	current := sum.Current(now)
	printSpend(out, sum.Periods(), current)
	if st := sum.Stats(); st.Malformed > 0 && !rc.allowMalformed {
		return fmt.Errorf("%d events could not be read (see above): nothing restored; repair them, or restore without them with -allow-malformed", st.Malformed)
	}
	if rc.dryRun {
		fmt.Fprintln(out, "dry run: nothing restored")
		return nil
	}
	s, err := open(conf)
	if err != nil {
		return err
	}
	err = restore(ctx, s, budgets, current, out)
	return errors.Join(err, s.close(context.Background()))
}

// readBilling feeds sum the billing events of the -events file, the
// -kafka-topic, or the config's events section, and prints what it read.
func readBilling(ctx context.Context, rc reconcileConfig, ev gavelhttp.EventsConfig, sum *gavel.SpendSummer, out io.Writer) error {
	file, topic, brokers := rc.events, rc.topic, rc.brokers
	if file == "" && topic == "" {
		switch ev.Kind {
		case eventsJSONLines:
			file = ev.File
		case eventsKafka:
			topic = ev.Topic
		default:
			return fmt.Errorf("the config's events are %q: give -events FILE or -kafka-topic TOPIC", ev.Kind)
		}
	}
	if len(brokers) == 0 {
		brokers = ev.Brokers
	}
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := sum.ReadJSONLines(f); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		st := sum.Stats()
		fmt.Fprintf(out, "events: %s (JSON lines)\n", file)
		for _, m := range st.MalformedLines {
			fmt.Fprintf(out, "  line %d: %v\n", m.Line, m.Err)
		}
		printStats(out, st)
		return nil
	}
	if len(brokers) == 0 {
		return errors.New("-kafka-topic needs -kafka-brokers, or brokers in the config's events")
	}
	read, err := gavelkafka.SumBilling(ctx, sum, topic, kgo.SeedBrokers(brokers...))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "events: kafka topic %s on %s: %d records in %d partitions\n", topic, strings.Join(brokers, ","), read.Records, read.Partitions)
	for _, m := range read.Malformed {
		fmt.Fprintf(out, "  partition %d offset %d: %v\n", m.Partition, m.Offset, m.Err)
	}
	if read.Deleted > 0 {
		fmt.Fprintf(out, "  warning: %d records were deleted by retention before the read: their billing is not counted\n", read.Deleted)
	}
	printStats(out, sum.Stats())
	return nil
}

func printStats(out io.Writer, st gavel.SumStats) {
	fmt.Fprintf(out, "  billing events counted %d, duplicates %d (of which at another cost %d), unbudgeted %d, other events %d, malformed %d\n",
		st.Billed, st.Duplicates, st.Conflicts, st.Unbudgeted, st.Other, st.Malformed)
}

// printSpend prints the spend of every period, and of every account's
// current period (marked "restore"), in a table.
func printSpend(out io.Writer, periods, current []gavel.AccountSpend) {
	restored := map[string]gavel.AccountSpend{}
	for _, sp := range current {
		restored[sp.Account] = sp
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "account\tperiod\tcommitted\tevents\t")
	seen := map[string]bool{}
	row := func(sp gavel.AccountSpend, mark string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", sp.Account, periodName(sp), gavel.FormatMicros(sp.Committed), sp.Events, mark)
	}
	for _, sp := range periods {
		cur := restored[sp.Account]
		if cur.PeriodStart.Equal(sp.PeriodStart) {
			seen[sp.Account] = true
			row(sp, "restore")
			continue
		}
		row(sp, "")
	}
	for _, sp := range current { // accounts with nothing billed in their current period
		if !seen[sp.Account] {
			row(sp, "restore")
		}
	}
	_ = tw.Flush()
}

func periodName(sp gavel.AccountSpend) string {
	switch {
	case !sp.FlightStart.IsZero():
		return "flight from " + sp.FlightStart.Format(time.RFC3339)
	case sp.PeriodStart.IsZero():
		return "total"
	}
	return "day from " + sp.PeriodStart.Format(time.RFC3339)
}

// restore sets budgets on s's ledger and pacer, as the exchange does when
// it starts, then restores current into them. The ledger must be a
// gavel.Restorer; a pacer that is not one (the memory pacer) is left out,
// and said so.
func restore(ctx context.Context, s *stores, budgets []gavel.Budget, current []gavel.AccountSpend, out io.Writer) error {
	ledger, ok := s.ledger.(gavel.Restorer)
	if !ok {
		return fmt.Errorf("the ledger (%T) cannot restore committed spend: it is not a gavel.Restorer", s.ledger)
	}
	targets := []gavel.Restorer{ledger}
	names := []string{"ledger"}
	setters := []any{s.ledger}
	if s.pacer != nil {
		if p, ok := s.pacer.(gavel.Restorer); ok {
			targets, names, setters = append(targets, p), append(names, "pacer"), append(setters, s.pacer)
		} else {
			fmt.Fprintf(out, "the pacer (%T) records no spend to restore: left out\n", s.pacer)
		}
	}
	for i, x := range setters {
		bs, ok := x.(gavel.BudgetSetter)
		if !ok {
			continue
		}
		for _, b := range budgets {
			if err := bs.SetBudget(ctx, b); err != nil {
				return fmt.Errorf("%s: budget of %q: %w", names[i], b.Account, err)
			}
		}
	}
	if err := gavel.Reconcile(ctx, current, targets...); err != nil {
		return err
	}
	fmt.Fprintf(out, "restored %d accounts into the %s\n", len(current), strings.Join(names, " and the "))
	return nil
}
