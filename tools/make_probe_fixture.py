#!/usr/bin/python3
"""Writes the linear-probe fixture: scikit-learn's multinomial logistic regression on small
deterministic data, for the C# L-BFGS test (tests/ImageGpt.Nn.Tests/Probe).

Run with Debian's python3-sklearn:  /usr/bin/python3 tools/make_probe_fixture.py
Output: tests/ImageGpt.Nn.Tests/Fixtures/probe/logreg.json
"""
import json
import os

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

N, D, K = 300, 20, 5
CS = [0.5, 100.0]


def data():
    rng = np.random.RandomState(20200612)
    means = rng.normal(0.0, 0.3, size=(K, D))
    y = np.arange(N) % K
    rng.shuffle(y)
    # Unit noise around class means about 1.9 apart: the classes overlap, so neither C separates them perfectly.
    x = means[y] + rng.normal(0.0, 1.0, size=(N, D))
    # Uneven scales and offsets, as unstandardized features have.
    x = x * np.linspace(0.5, 2.0, D) + np.linspace(-1.0, 1.0, D)
    return x, y


def cross_entropy_sum(x, y, coef, intercept):
    z = x @ coef.T + intercept
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].sum()


def main():
    x, y = data()
    fits = []
    for c in CS:
        # Default tol (1e-4) as a probe user would run it; max_iter raised so it converges.
        model = LogisticRegression(C=c, solver="lbfgs", multi_class="multinomial",
                                   fit_intercept=True, max_iter=10000)
        model.fit(x, y)
        ce = cross_entropy_sum(x, y, model.coef_, model.intercept_)
        fits.append({
            "C": c,
            "coef": model.coef_.tolist(),
            "intercept": model.intercept_.tolist(),
            # sklearn's documented objective: 0.5 ||W||^2 + C sum_i CE_i (intercept not penalized).
            "objective": float(0.5 * (model.coef_ ** 2).sum() + c * ce),
            "train_accuracy": float(model.score(x, y)),
            "n_iter": int(model.n_iter_[0]),
        })
    out = {
        "format": "imagegpt-probe-fixture",
        "version": 1,
        "sklearn": sklearn.__version__,
        "n": N, "d": D, "classes": K,
        "x": x.ravel().tolist(),
        "y": y.tolist(),
        "fits": fits,
    }
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "tests", "ImageGpt.Nn.Tests", "Fixtures", "probe", "logreg.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f)
    for fit in fits:
        print(f"C={fit['C']}: objective {fit['objective']:.6f}, train acc {fit['train_accuracy']:.4f}, {fit['n_iter']} iterations")
    print("wrote", path)


if __name__ == "__main__":
    main()
