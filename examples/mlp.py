"""A multilayer perceptron: layers of weighted sums and non-linearities.

Each layer computes h = relu(W x + b): a weighted sum per unit, then a kink (relu(z) =
max(0, z)) so that stacked layers can bend the decision boundary. Without the kink, any
stack of layers would collapse into a single linear map. Training runs backpropagation:
the chain rule gives the gradient of the loss for every weight, and Adam steps downhill.
Dropout zeroes random units while training so that no unit can rely on another.

This script builds a problem a straight line cannot solve (two interleaved half-moons),
shows that logistic regression stalls on it while an MLP does not, and uses the MLP through
the service.
"""

from __future__ import annotations

import numpy as np
from aimaas_client import check, client, csv_bytes, predict, train, upload
from sklearn.datasets import make_moons
from sklearn.model_selection import train_test_split


def main() -> None:
    x, y = make_moons(n_samples=1200, noise=0.15, random_state=0)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
    with client() as http:
        file_id = upload(
            http, "moons.csv", csv_bytes(["x1", "x2", "moon"], np.column_stack([x_train, y_train]))
        )
        rows = [{"x1": float(a), "x2": float(b)} for a, b in x_test]
        accuracy = {}
        for algorithm, hyperparameters in [
            ("logistic_regression", {}),
            ("mlp", {"hidden_sizes": [32, 32], "epochs": 30, "learning_rate": 0.01}),
        ]:
            name = f"moons-{algorithm.replace('_', '-')}"
            train(
                http,
                model=name,
                algorithm=algorithm,
                training_file=file_id,
                target="moon",
                hyperparameters=hyperparameters,
                seed=0,
            )
            labels = [int(float(p["label"])) for p in predict(http, name, rows)]
            accuracy[algorithm] = float(np.mean(np.array(labels) == y_test))
    print(f"held-out accuracy: {accuracy}")
    check(accuracy["mlp"] >= 0.95, "the MLP should separate the moons (>= 95%)")
    check(
        accuracy["mlp"] > accuracy["logistic_regression"] + 0.05,
        "the MLP should beat the linear model clearly on a non-linear problem",
    )


if __name__ == "__main__":
    main()
