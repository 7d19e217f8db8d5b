#!/usr/bin/env python3
"""Trains a small binary:logistic XGBoost model on synthetic data with
missing values and writes, next to this script:

  model.json   the model, in XGBoost's JSON format (Booster.save_model)
  cases.csv    held-out rows: the features (empty = missing), then
               XGBoost's own predicted probability and margin, printed
               with 9 significant digits (enough to round trip a float32)
  version.txt  the versions of xgboost and numpy that wrote them

predict's TestGBTMatchesXGBoost loads them and checks that gavel's
evaluator predicts what XGBoost did. CI does not run this script; run it
by hand (/usr/bin/python3 predict/testdata/gbt/train.py, with Debian's
python3-xgboost and python3-numpy) when the files are to change.
"""
import csv
import os

import numpy as np
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))
FEATURES = ["bidfloor", "w", "h", "devicetype", "connectiontype",
            "hour", "weekday", "age", "instl", "app"]


def synthetic(rng, n):
    """Rows shaped like the default mapping's columns, a click
    probability with interactions, and about 10% of values missing."""
    x = np.column_stack([
        rng.gamma(2.0, 0.5, n),                      # bidfloor
        rng.choice([300, 320, 728, 160], n),         # w
        rng.choice([250, 50, 90, 600], n),           # h
        rng.choice([1, 2, 4, 5], n),                 # devicetype
        rng.choice([0, 2, 3, 6], n),                 # connectiontype
        rng.integers(0, 24, n),                      # hour
        rng.integers(0, 7, n),                       # weekday
        rng.integers(16, 80, n),                     # age
        rng.integers(0, 2, n),                       # instl
        rng.integers(0, 2, n),                       # app
    ]).astype(np.float64)
    logit = (-3.0 + 0.4 * x[:, 0] + 0.8 * (x[:, 3] == 4) - 0.01 * x[:, 7]
             + 0.6 * x[:, 8] * x[:, 9] + 0.5 * np.sin(x[:, 5] / 24 * 2 * np.pi)
             + 0.3 * (x[:, 1] == 320) * (x[:, 2] == 50))
    p = 1 / (1 + np.exp(-logit))
    y = (rng.random(n) < p).astype(np.float64)
    x[rng.random(x.shape) < 0.1] = np.nan
    return x, y


def main():
    rng = np.random.default_rng(11)
    x, y = synthetic(rng, 20000)
    xt, _ = synthetic(rng, 500)
    dtrain = xgb.DMatrix(x, label=y, feature_names=FEATURES)
    params = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.1,
              "base_score": 0.2, "eval_metric": "logloss", "seed": 1}
    booster = xgb.train(params, dtrain, num_boost_round=60)
    booster.save_model(os.path.join(HERE, "model.json"))

    dtest = xgb.DMatrix(xt, feature_names=FEATURES)
    prob = booster.predict(dtest)
    margin = booster.predict(dtest, output_margin=True)
    with open(os.path.join(HERE, "cases.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(FEATURES + ["prob", "margin"])
        for row, p, m in zip(xt, prob, margin):
            cells = ["" if np.isnan(v) else repr(float(v)) for v in row]
            w.writerow(cells + ["%.9g" % p, "%.9g" % m])
    with open(os.path.join(HERE, "version.txt"), "w") as f:
        f.write("xgboost %s\nnumpy %s\n" % (xgb.__version__, np.__version__))


if __name__ == "__main__":
    main()
