// The gavel dashboard page: it keeps the frames of one event stream and
// draws them. A "hello" event starts the stream over (a reconnection, or a
// new server), then "frame" events arrive, the history first.
(function () {
  "use strict";

  const colors = ["#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d"];
  const $ = (id) => document.getElementById(id);

  let frames = [];
  let history = 300;
  let stream = "";
  let source = null;
  let pending = false;
  const charts = {};

  // The test and the curious read this.
  window.gavelDashboard = { frames: () => frames.length, stream: () => stream, state: () => $("conn").textContent };

  function setState(s) {
    const el = $("conn");
    el.textContent = s;
    el.className = "conn " + s;
  }

  function connect() {
    setState("connecting");
    source = new EventSource("events");
    source.addEventListener("open", () => setState("live"));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        setState("closed"); // refused for good: try again ourselves
        source.close();
        setTimeout(connect, 2000);
      } else {
        setState("reconnecting");
      }
    });
    source.addEventListener("hello", (e) => {
      const h = JSON.parse(e.data);
      history = h.history;
      stream = h.stream;
      $("title").textContent = h.title;
      document.title = h.title + " dashboard";
      frames = [];
      schedule();
    });
    source.addEventListener("frame", (e) => {
      frames.push(JSON.parse(e.data));
      if (frames.length > history) frames.shift();
      schedule();
    });
  }

  // schedule draws once for a burst of frames (the history comes at once).
  function schedule() {
    if (pending) return;
    pending = true;
    setTimeout(() => { pending = false; draw(); }, 30);
  }

  const fmt = (x, d) => (x === null || x === undefined || Number.isNaN(x)) ? "–" : x.toFixed(d);
  const pct = (x) => fmt(x * 100, 1) + "%";
  const money = (micros) => fmt(micros / 1e6, 2);
  const cpm = (micros) => micros > 0 ? fmt(micros / 1e6, 2) : "–";

  function draw() {
    const last = frames[frames.length - 1];
    drawTiles(last);
    drawCharts();
    drawBidders(last);
    drawAccounts(last);
    drawCampaigns(last);
    drawModels(last);
    drawReasons("nobids", (f) => f.noBids);
    drawReasons("losses", (f) => f.losses);
  }

  function drawTiles(f) {
    const a = f ? f.auctions : null;
    $("t-rate").textContent = a ? fmt(a.rate, 1) : "–";
    $("t-won").textContent = a ? fmt(a.won, 1) : "–";
    $("t-nobid").textContent = a ? fmt(a.noBid, 1) : "–";
    $("t-latency").textContent = a ? [a.p50, a.p90, a.p99].map((x) => fmt(x, x < 10 ? 1 : 0)).join(" / ") : "–";
    $("t-prices").textContent = a ? cpm(a.avgBid) + " / " + cpm(a.avgClear) : "–";
    const h = f && f.handler;
    $("t-shed").textContent = h ? fmt(h.shed, 1) + " · " + h.inFlight : "–";
  }

  // series returns, for each name, its values over the frames.
  function series(names, value) {
    return names.map((n) => frames.map((f) => value(f, n)));
  }

  function namesOf(list) {
    const seen = new Set();
    for (const f of frames) for (const x of list(f) || []) seen.add(x.name);
    return [...seen];
  }

  function byName(list, name) {
    return (list || []).find((x) => x.name === name);
  }

  function drawCharts() {
    const xs = frames.map((f) => f.t / 1000);
    plot("c-auctions", ["all", "won", "no bid", "invalid"], xs, [
      frames.map((f) => f.auctions.rate), frames.map((f) => f.auctions.won),
      frames.map((f) => f.auctions.noBid), frames.map((f) => f.auctions.invalid),
    ]);
    plot("c-latency", ["p50", "p90", "p99"], xs, [
      frames.map((f) => f.auctions.p50), frames.map((f) => f.auctions.p90), frames.map((f) => f.auctions.p99),
    ]);
    const handler = (field) => frames.map((f) => f.handler ? f.handler[field] : null);
    plot("c-load", ["shed", "refused (4xx)", "in flight"], xs, [handler("shed"), handler("rejected"), handler("inFlight")]);
    const bidders = namesOf((f) => f.bidders);
    const perBidder = (value) => series(bidders, (f, n) => {
      const b = byName(f.bidders, n);
      return b ? value(b) : null;
    });
    plot("c-bidders", bidders, xs, perBidder((b) => b.calls > 0 ? b.p90 : null));
    plot("c-failures", bidders, xs, perBidder((b) => b.calls > 0 ? 100 * (b.timeoutRate + b.errorRate) : null));
    plot("c-wins", bidders, xs, perBidder((b) => b.bids > 0 ? 100 * b.winRate : null));
    plot("c-prices", ["avg bid", "avg clear"], xs, [
      frames.map((f) => f.auctions.avgBid > 0 ? f.auctions.avgBid / 1e6 : null),
      frames.map((f) => f.auctions.avgClear > 0 ? f.auctions.avgClear / 1e6 : null),
    ]);
    const has = (n, test) => frames.some((f) => { const a = byName(f.accounts, n); return a && test(a); });
    const accounts = namesOf((f) => f.accounts).filter((n) => has(n, (a) => a.balance));
    const spendNames = [], spend = [], dashed = [];
    for (const n of accounts) {
      spendNames.push(n + " spent", n + " target");
      spend.push(frames.map((f) => spentShare(byName(f.accounts, n))), frames.map((f) => targetShare(byName(f.accounts, n))));
      dashed.push(false, true);
    }
    plot("c-spend", spendNames, xs, spend, dashed, 2);
    const paced = namesOf((f) => f.accounts).filter((n) => has(n, (a) => a.pacing !== undefined));
    plot("c-pacing", paced, xs, series(paced, (f, n) => { const a = byName(f.accounts, n); return a && a.pacing !== undefined ? a.pacing : null; }));
    const campaigns = namesOf((f) => f.campaigns);
    plot("c-campaigns", campaigns, xs, series(campaigns, (f, n) => { const c = byName(f.campaigns, n); return c ? c.impRate : null; }));
    const models = namesOf((f) => f.models);
    const perModel = (field) => series(models, (f, n) => { const m = byName(f.models, n); return m && m[field] !== null ? m[field] : null; });
    plot("c-model-ne", models, xs, perModel("ne"));
    plot("c-model-calibration", models, xs, perModel("calibration"));
  }

  function spentShare(a) {
    if (!a || !a.balance || a.balance.budget <= 0) return null;
    return 100 * (a.balance.committed + a.balance.held) / a.balance.budget;
  }

  function targetShare(a) {
    if (!a || !a.balance || a.balance.budget <= 0 || a.target === undefined) return null;
    return 100 * a.target / a.balance.budget;
  }

  // plot draws one chart, made again when its series change. With group,
  // series go by groups of that many, each group in one color.
  function plot(id, names, xs, ys, dashed, group) {
    const el = $(id);
    const key = names.join("\u0000");
    let c = charts[id];
    if (!c || c.key !== key) {
      if (c) c.plot.destroy();
      const opts = {
        width: Math.max(el.clientWidth, 300),
        height: 200,
        scales: { x: { time: true } },
        series: [{}].concat(names.map((n, i) => ({
          label: n,
          stroke: colors[Math.floor(i / (group || 1)) % colors.length],
          width: 1.5,
          dash: dashed && dashed[i] ? [6, 4] : undefined,
          spanGaps: false,
        }))),
        axes: [{}, { size: 50 }],
        legend: { live: false },
      };
      c = charts[id] = { key: key, plot: new uPlot(opts, [xs].concat(ys), el) };
      return;
    }
    c.plot.setData([xs].concat(ys));
  }

  function cell(tr, text) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.appendChild(td);
  }

  function fill(id, rows, columns) {
    const body = $(id).tBodies[0];
    body.replaceChildren();
    if (rows.length === 0) {
      const tr = body.insertRow();
      const td = document.createElement("td");
      td.className = "empty";
      td.colSpan = columns;
      td.textContent = frames.length ? "none" : "waiting for data";
      tr.appendChild(td);
      return;
    }
    for (const r of rows) {
      const tr = body.insertRow();
      for (const v of r) cell(tr, v);
    }
  }

  function drawBidders(f) {
    const rows = ((f && f.bidders) || []).map((b) => [
      b.name, fmt(b.calls, 1), pct(b.bidRate), pct(b.noBidRate), pct(b.timeoutRate), pct(b.errorRate),
      pct(b.winRate), fmt(b.p50, 1), fmt(b.p99, 1), cpm(b.avgBid), cpm(b.avgClear),
    ]);
    fill("bidders", rows, 11);
  }

  function drawAccounts(f) {
    const rows = ((f && f.accounts) || []).map((a) => {
      const b = a.balance;
      return [
        a.name,
        b ? money(b.budget) : "–", b ? money(b.committed) : "–", b ? money(b.held) : "–", b ? money(b.remaining) : "–",
        b ? fmt(spentShare(a), 2) + "%" : "–", targetShare(a) !== null ? fmt(targetShare(a), 2) + "%" : "–",
        a.pacing !== undefined ? fmt(a.pacing, 3) : "–", fmt(a.reserves, 1), fmt(a.refusals, 1), fmt(a.billed, 1),
      ];
    });
    fill("accounts", rows, 11);
  }

  function drawCampaigns(f) {
    const rows = (f ? f.campaigns || [] : []).map((c) => {
      const b = c.balance;
      return [
        c.name, c.account || "–", String(c.impressions), money(c.spend), String(c.clicks),
        c.impressions > 0 ? fmt(100 * c.ctr, 2) + "%" : "–", String(c.conversions), fmt(c.impRate, 1),
        c.pacing !== undefined ? fmt(c.pacing, 3) : "–",
        b && b.budget > 0 ? money(b.committed + b.held) + " / " + money(b.budget) + " (" + fmt(100 * (b.committed + b.held) / b.budget, 1) + "%)" : "–",
      ];
    });
    fill("campaigns", rows, 10);
  }

  // sig formats a statistic that may be null (undefined over the window).
  const sig = (x, d) => (x === null || x === undefined) ? "–" : fmt(x, d);

  function drawModels(f) {
    const models = f ? f.models || [] : [];
    const rows = models.map((m) => {
      const d = m.lastDrift;
      return [
        m.name, m.t ? fmt(m.window, 0) + " s" : "–", String(m.observations), String(m.positives),
        m.baseRate !== null ? pct(m.baseRate) : "–", m.meanPrediction !== null ? pct(m.meanPrediction) : "–",
        sig(m.logLoss, 4), sig(m.ne, 4), sig(m.calibration, 3), sig(m.auc, 4),
        m.calibrationDrifts + " / " + m.entropyDrifts,
        d ? d.kind + " " + sig(d.value, 3) + " past " + sig(d.limit, 3) + " at " + new Date(d.t).toLocaleTimeString() : "–",
      ];
    });
    fill("models", rows, 12);
    const buckets = [];
    for (const m of models) {
      for (const b of m.buckets || []) {
        buckets.push([
          m.name, "[" + b.min + ", " + b.max + ")", String(b.observations),
          b.meanPrediction !== null ? pct(b.meanPrediction) : "–", b.rate !== null ? pct(b.rate) : "–", sig(b.calibration, 3),
        ]);
      }
    }
    fill("model-buckets", buckets, 6);
  }

  // drawReasons adds up the last 60 frames' reasons, most frequent first.
  function drawReasons(id, list) {
    const sums = new Map();
    for (const f of frames.slice(-60)) {
      for (const r of list(f) || []) {
        const s = sums.get(r.code) || { name: r.name, n: 0 };
        s.n += r.rate * f.secs;
        sums.set(r.code, s);
      }
    }
    const rows = [...sums.entries()].sort((x, y) => y[1].n - x[1].n)
      .map(([code, s]) => [String(code), s.name || "", fmt(s.n, 0)]);
    fill(id, rows, 3);
  }

  window.addEventListener("resize", () => {
    for (const id in charts) charts[id].plot.setSize({ width: Math.max($(id).clientWidth, 300), height: 200 });
  });

  draw();
  connect();
})();
