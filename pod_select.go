package gavel

import (
	"cmp"
	"slices"
	"strings"
)

// The selection of a dynamic pod's winners (pods.go): the set of greatest
// total price among the candidates that fits the ads and seconds left,
// takes the first and the last position at most once each, and keeps
// competitive separation among its bids and with the pod's other winners.
//
// Without separation this is a 0/1 knapsack, solved exactly by dynamic
// programming over (ads, seconds, positions), candidates in rank order:
//
//   - seconds are counted in steps of the candidates' greatest common
//     divisor (5 or 15 seconds in real pods);
//   - the ads dimension is dropped when maxseq cannot bind (no more than
//     maxseq ads of the shortest duration fit);
//   - the positions dimension holds only the positions that candidates ask
//     for: 2 states for first, 2 for last, 3 for either (0 to 2 bids).
//
// The knapsack takes at most one bid of a group: the bids of one
// advertiser domain (those with a single adomain, equal ignoring case), or
// those of one category (a single cat, equal, in one taxonomy), whichever
// of the two families holds more clashing pairs, so that the most common
// clashes cost nothing more. The other clashes (the other family,
// subcategories, subdomains, several domains) are added by branch and bound:
// while the knapsack's best set holds two bids that must be separated, the
// search branches on the higher of them: in the set (its knapsack starts
// from it, and every bid that clashes with it is left out), then out of
// it, and drops every branch whose knapsack is worth no more than the best
// separated set found so far. That set starts as the greedy fill: each
// candidate in rank order that fits and clashes with none taken.
//
// The work is bounded per auction: the knapsacks of all its dynamic pods
// may visit podMaxWork cells in all (a few hundred microseconds of one
// core), in tables of at most podMaxWork bits and podMaxWork/bids int64s.
// The choice is exact while it fits: 30 bids, 8 ads, 180 s in steps of
// 15 s, first and last positions asked for, is 30 × 9 × 13 × 4 = 14,040
// cells a knapsack, room for 18 of them; 50 bids of 15, 20, 30, 45 or 60 s
// for a 300 s pod without maxseq or positions, 50 × 61 = 3,050. Past the
// bound the search stops and the best separated set found so far wins,
// never worse than the greedy fill. Ties between sets of equal value go to
// the set found first, so the same bids always give the same winners.

// podMaxWork bounds the knapsack cells that the dynamic pods of one
// auction may visit; see above.
const podMaxWork = 1 << 18

// podMaxBids bounds the candidates of one selection: the best podMaxBids
// eligible bids of the pod. It keeps sums of prices within int64 at any
// price WithMaxPrice allows.
const podMaxBids = 4096

// posCount counts the bids of a dynamic pod that take the first position
// (f), the last (l), and either of them (e).
type posCount struct{ f, l, e int }

func (c posCount) add(p podPos) posCount {
	switch p {
	case posFirst:
		c.f++
	case posLast:
		c.l++
	case posEither:
		c.e++
	}
	return c
}

func (c posCount) plus(d posCount) posCount { return posCount{c.f + d.f, c.l + d.l, c.e + d.e} }

// valid reports whether the bids fit the pod's two ends.
func (c posCount) valid() bool { return c.f <= 1 && c.l <= 1 && c.f+c.l+c.e <= 2 }

// podKnapsack is the scratch of one selection; see above.
type podKnapsack struct {
	res *Result
	sep PodSeparation

	// The candidates, in rank order: bid indexes, durations in seconds
	// and in steps, prices, the positions they ask for, and whether the
	// branch being searched excludes them.
	bid  []int
	dur  []int64
	w    []int
	val  []int64
	pos  []podPos
	excl []bool

	forced []int // candidates the branch being searched puts in the set
	undo   []int // candidates excluded for the forced ones

	order  []int // candidate indexes, by group: group g is order[starts[g]:starts[g+1]]
	starts []int
	byCat  bool // groups are categories, not advertiser domains

	ads   int      // ads left; -1 when the ads dimension is dropped
	steps int      // steps of seconds left
	taken posCount // the positions the pod's bids so far take
	rf    int      // radix of the positions taken first (1 or 2)
	rl    int      // radix of those taken last (1 or 2)
	npos  int      // position states
	next  []int8   // next[s*4+p]: the state after a bid asking for p joins state s; -1: none
	prev  []int8   // prev[t*4+p]: the state that such a bid joined to reach t; -1: none

	dp   []int64  // the knapsack table, -1 where no set reaches the state
	old  []int64  // dp before the group being added
	own  []int16  // per state, 1 + the member of the group that improved it last; 0: none
	bits []uint64 // per candidate, the states where taking it was best
	sel  []int    // the last knapsack's set, candidate indexes in rank order
	best []int    // the best separated set so far

	bestVal int64
	work    int // cells the auction's knapsacks may still visit
}

func (k *podKnapsack) reset(res *Result, sep PodSeparation) {
	k.res, k.sep = res, sep
	k.bid, k.dur, k.val, k.pos = k.bid[:0], k.dur[:0], k.val[:0], k.pos[:0]
}

// add makes bid j a candidate; candidates come in rank order.
func (k *podKnapsack) add(j int, dur int64, pos podPos) {
	if len(k.bid) < podMaxBids {
		k.bid, k.dur, k.pos = append(k.bid, j), append(k.dur, dur), append(k.pos, pos)
		k.val = append(k.val, k.res.Bids[j].PriceMicros)
	}
}

// choose appends to dst, in rank order, the bids of the best set for ads
// more ads (-1: no limit) and secs more seconds, the pod's bids so far
// taking the positions taken.
func (k *podKnapsack) choose(ads, secs int64, taken posCount, dst []int) []int {
	if len(k.bid) == 0 || ads == 0 || secs <= 0 {
		return dst
	}
	k.taken = taken
	k.positions()
	k.greedy(ads, secs)
	if k.size(ads, secs) {
		k.search()
	}
	for _, c := range k.best {
		dst = append(dst, k.bid[c])
	}
	return dst
}

// positions builds the transitions between position states for the
// positions that the candidates ask for.
func (k *podKnapsack) positions() {
	var asked [4]bool
	for _, p := range k.pos {
		asked[p] = true
	}
	re := 1
	k.rf, k.rl = 1, 1
	if asked[posFirst] {
		k.rf = 2
	}
	if asked[posLast] {
		k.rl = 2
	}
	if asked[posEither] {
		re = 3
	}
	k.npos = k.rf * k.rl * re
	k.next, k.prev = grow(k.next, k.npos*4), grow(k.prev, k.npos*4)
	fill(k.next, -1)
	fill(k.prev, -1)
	for s := range k.npos {
		c := posCount{s % k.rf, s / k.rf % k.rl, s / (k.rf * k.rl)}
		if !k.taken.plus(c).valid() {
			continue
		}
		for p := posAny; p <= posEither; p++ {
			d := c.add(p)
			if d.f >= k.rf || d.l >= k.rl || d.e >= re || !k.taken.plus(d).valid() {
				continue
			}
			t := d.f + k.rf*(d.l+k.rl*d.e)
			k.next[s*4+int(p)], k.prev[t*4+int(p)] = int8(t), int8(s)
		}
	}
}

// greedy sets the best set to the better of two greedy fills, each
// candidate that fits and clashes with none taken: in rank order, and in
// order of price per second (then rank).
func (k *podKnapsack) greedy(ads, secs int64) {
	k.order = grow(k.order, len(k.bid))
	for i := range k.order {
		k.order[i] = i
	}
	k.best, k.bestVal = k.fill(k.order, ads, secs, k.best[:0])
	slices.SortStableFunc(k.order, func(a, b int) int {
		x, y := k.val[a]*k.dur[b], k.val[b]*k.dur[a] // price per second, crosswise
		return cmp.Compare(y, x)
	})
	k.sel, _ = k.fill(k.order, ads, secs, k.sel[:0])
	if v := k.value(k.sel); v > k.bestVal {
		slices.Sort(k.sel)
		k.best, k.sel, k.bestVal = k.sel, k.best, v
	}
}

// fill appends to set the candidates of order that fit and clash with
// none taken, and returns it with its value.
func (k *podKnapsack) fill(order []int, ads, secs int64, set []int) ([]int, int64) {
	var n, used, val int64
	s := 0
	for _, i := range order {
		if ads > 0 && n == ads || used+k.dur[i] > secs {
			continue
		}
		t := k.next[s*4+int(k.pos[i])]
		if t < 0 || k.conflicts(i, set) {
			continue
		}
		set = append(set, i)
		n, used, val, s = n+1, used+k.dur[i], val+k.val[i], int(t)
	}
	return set, val
}

func (k *podKnapsack) value(set []int) (v int64) {
	for _, i := range set {
		v += k.val[i]
	}
	return v
}

// size sets the knapsack's dimensions and groups, and reports whether its
// seconds fit in a table at all.
func (k *podKnapsack) size(ads, secs int64) bool {
	n := len(k.bid)
	g, shortest := k.dur[0], k.dur[0]
	for _, d := range k.dur[1:] {
		g, shortest = gcd(g, d), min(shortest, d)
	}
	if secs/g >= podMaxWork {
		return false
	}
	k.steps, k.ads = int(secs/g), -1
	if ads > 0 && ads < int64(n) && ads < secs/shortest {
		k.ads = int(ads)
	}
	k.w, k.excl = grow(k.w, n), grow(k.excl, n)
	for i, d := range k.dur {
		k.w[i] = int(d / g)
	}
	clear(k.excl)
	k.forced, k.undo = k.forced[:0], k.undo[:0]
	k.group()
	return true
}

// group sorts the candidates into groups of which a set may hold at most
// one: the bids of one advertiser domain or of one category, whichever
// family holds more clashing pairs.
func (k *podKnapsack) group() {
	k.order = grow(k.order, len(k.bid))
	k.byCat = false
	pairs := k.sortGroups()
	if k.sep&SeparateCategories != 0 {
		k.byCat = true
		if k.sortGroups() <= pairs {
			k.byCat = false
			k.sortGroups()
		}
	}
}

// sortGroups sorts k.order into the groups of the family k.byCat says and
// returns the number of pairs within groups.
func (k *podKnapsack) sortGroups() int {
	for i := range k.order {
		k.order[i] = i
	}
	slices.SortFunc(k.order, func(a, b int) int {
		if c := k.compareKeys(a, b); c != 0 {
			return c
		}
		return a - b
	})
	k.starts = k.starts[:0]
	pairs := 0
	for x, i := range k.order {
		if x == 0 || !k.keyed(i) || k.compareKeys(i, k.order[x-1]) != 0 {
			k.starts = append(k.starts, x)
		}
		pairs += x - k.starts[len(k.starts)-1]
	}
	k.starts = append(k.starts, len(k.order))
	return pairs
}

// keyed reports whether candidate i belongs to a group of the family
// k.byCat says: it has a single adomain (or cat) and the family is
// separated.
func (k *podKnapsack) keyed(i int) bool {
	b := k.res.Bids[k.bid[i]].Bid
	if k.byCat {
		return k.sep&SeparateCategories != 0 && len(b.Cat) == 1 && b.Cat[0] != ""
	}
	return k.sep&SeparateAdvertisers != 0 && len(b.ADomain) == 1 && b.ADomain[0] != ""
}

// compareKeys orders candidates by group: those without one first, then
// by domain ignoring case, or by taxonomy and category.
func (k *podKnapsack) compareKeys(i, j int) int {
	ki, kj := k.keyed(i), k.keyed(j)
	switch {
	case !ki && !kj:
		return 0
	case !ki:
		return -1
	case !kj:
		return 1
	}
	x, y := k.res.Bids[k.bid[i]].Bid, k.res.Bids[k.bid[j]].Bid
	if !k.byCat {
		return compareFold(x.ADomain[0], y.ADomain[0])
	}
	if tx, ty := taxonomy(x.CatTax), taxonomy(y.CatTax); tx != ty {
		return int(tx) - int(ty)
	}
	return strings.Compare(x.Cat[0], y.Cat[0])
}

// search is the branch and bound: it solves the knapsack without the
// excluded candidates and, while its set is worth more than the best one
// and breaks separation, branches on the higher bid a of the first pair
// that does: a in the set (and every candidate that clashes with it out),
// then a out. The two branches share no set.
func (k *podKnapsack) search() {
	val := k.solve()
	if val <= k.bestVal {
		return
	}
	a, _, ok := k.firstConflict()
	if !ok {
		k.best, k.bestVal = append(k.best[:0], k.sel...), val
		return
	}
	k.excl[a] = true
	mark := len(k.undo)
	for i := range k.bid {
		if !k.excl[i] && k.pair(a, i) {
			k.excl[i] = true
			k.undo = append(k.undo, i)
		}
	}
	k.forced = append(k.forced, a)
	k.search()
	k.forced = k.forced[:len(k.forced)-1]
	for _, i := range k.undo[mark:] {
		k.excl[i] = false
	}
	k.undo = k.undo[:mark]
	k.search() // a is still excluded
	k.excl[a] = false
}

// states is the number of states of one knapsack table.
func (k *podKnapsack) states() int {
	return max(k.ads+1, 1) * (k.steps + 1) * k.npos
}

// solve runs one knapsack over the candidates neither excluded nor
// forced, from the state of the forced ones, and leaves its best set, the
// forced candidates included, in k.sel. It returns the set's value, or -1
// when the forced candidates do not fit or the work left does not cover
// the knapsack.
func (k *podKnapsack) solve() int64 {
	n, s := len(k.bid), k.states()
	active := 0
	for _, x := range k.excl {
		if !x {
			active++
		}
	}
	if active*s > k.work {
		k.work = 0 // no later knapsack of the auction may jump the queue
		return -1
	}
	start, val, ok := k.start()
	if !ok {
		return -1
	}
	k.work -= active * s
	words := (s + 63) / 64
	k.dp, k.bits = grow(k.dp, s), grow(k.bits, n*words)
	fill(k.dp, -1)
	clear(k.bits)
	k.dp[start] = val
	for g := range len(k.starts) - 1 {
		k.relax(k.order[k.starts[g]:k.starts[g+1]], words)
	}
	top := start
	for st, v := range k.dp {
		if v > k.dp[top] {
			top = st
		}
	}
	k.sel = append(k.sel[:0], k.forced...)
	for g, st := len(k.starts)-2, top; g >= 0; g-- {
		for _, i := range k.order[k.starts[g]:k.starts[g+1]] {
			if k.bits[i*words+st>>6]&(1<<(st&63)) != 0 {
				k.sel = append(k.sel, i)
				st = k.from(st, i)
				break
			}
		}
	}
	slices.Sort(k.sel)
	return k.dp[top]
}

// start returns the state and the value of the forced candidates, and
// whether they fit the pod together.
func (k *podKnapsack) start() (st int, val int64, ok bool) {
	c, d, p := 0, 0, 0
	for _, i := range k.forced {
		if k.ads >= 0 {
			c++
		}
		d, val = d+k.w[i], val+k.val[i]
		if p = int(k.next[p*4+int(k.pos[i])]); p < 0 {
			return 0, 0, false
		}
	}
	if c > max(k.ads, 0) || d > k.steps {
		return 0, 0, false
	}
	return (c*(k.steps+1)+d)*k.npos + p, val, true
}

// relax is the knapsack step of one group: each state takes the best of
// keeping its set and adding one member of the group to a smaller set.
func (k *podKnapsack) relax(members []int, words int) {
	if len(members) == 1 {
		if i := members[0]; !k.excl[i] {
			k.relaxOne(i, k.dp, k.bits[i*words:(i+1)*words], 0)
		}
		return
	}
	// Each member reads the table as it was before the group, and the
	// member that improved a state last is its owner.
	k.old = append(k.old[:0], k.dp...)
	k.own = grow(k.own, len(k.dp))
	for x, i := range members {
		if !k.excl[i] {
			k.relaxOne(i, k.old, nil, int16(x+1))
		}
	}
	for t, o := range k.own {
		if o != 0 {
			i := members[o-1]
			k.bits[i*words+t>>6] |= 1 << (t & 63)
			k.own[t] = 0
		}
	}
}

// relaxOne adds candidate i to the sets of src, writing the states it
// improves into k.dp and marking them in bits, or, with owner > 0, in
// k.own. When src is k.dp it visits the position states from the highest
// down, and each from the highest index down: a state's source has a
// lower position state (one end more taken) or is visited after it, so it
// reads the table as it was before i.
func (k *podKnapsack) relaxOne(i int, src []int64, bits []uint64, owner int16) {
	cs, dc := 1, 0
	if k.ads >= 0 {
		cs, dc = k.ads+1, 1
	}
	rows, w, v, np, dp := k.steps+1, k.w[i], k.val[i], k.npos, k.dp
	for p := np - 1; p >= 0; p-- {
		q := int(k.prev[p*4+int(k.pos[i])])
		if q < 0 {
			continue
		}
		for c := cs - 1; c >= dc; c-- {
			to, from := (c*rows+k.steps)*np+p, ((c-dc)*rows+k.steps-w)*np+q
			for d := k.steps; d >= w; d, to, from = d-1, to-np, from-np {
				if f := src[from]; f >= 0 && f+v > dp[to] {
					dp[to] = f + v
					if owner == 0 {
						bits[to>>6] |= 1 << (to & 63)
					} else {
						k.own[to] = owner
					}
				}
			}
		}
	}
}

// from is the state that taking candidate i into state st came from.
func (k *podKnapsack) from(st, i int) int {
	dc := 0
	if k.ads >= 0 {
		dc = 1
	}
	rows := k.steps + 1
	p, cd := st%k.npos, st/k.npos
	return ((cd/rows-dc)*rows+cd%rows-k.w[i])*k.npos + int(k.prev[p*4+int(k.pos[i])])
}

// conflicts reports whether candidate i must be separated from any of set.
func (k *podKnapsack) conflicts(i int, set []int) bool {
	for _, x := range set {
		if k.pair(i, x) {
			return true
		}
	}
	return false
}

// pair reports whether candidates i and j must be separated.
func (k *podKnapsack) pair(i, j int) bool {
	return mustSeparate(k.sep, k.res.Bids[k.bid[i]].Bid, k.res.Bids[k.bid[j]].Bid)
}

// firstConflict returns the first pair of k.sel, in rank order, that must
// be separated.
func (k *podKnapsack) firstConflict() (a, b int, ok bool) {
	for x, i := range k.sel {
		for _, j := range k.sel[x+1:] {
			if k.pair(i, j) {
				return i, j, true
			}
		}
	}
	return 0, 0, false
}

// compareFold compares two strings as strings.Compare does, ASCII letters
// folded to lower case.
func compareFold(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		x, y := lowerASCII(a[i]), lowerASCII(b[i])
		if x != y {
			return int(x) - int(y)
		}
	}
	return len(a) - len(b)
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
