"""Logistic regression: the sigmoid and cross-entropy.

For two classes the model turns a score z = w·x + b into a probability with the sigmoid

    p(y=1 | x) = σ(z) = 1 / (1 + e^(-z))

and is fitted by minimising the cross-entropy (the negative log-likelihood)

    L = -Σ [ y log p + (1 - y) log(1 - p) ] + (λ/2)||w||²

which is convex, so L-BFGS finds its one minimum. With K classes, softmax replaces the
sigmoid: p_k = e^(z_k) / Σ_j e^(z_j).

This script trains on scikit-learn's breast-cancer data (30 features), predicts a held-out
quarter through the service, and compares accuracy with scikit-learn's LogisticRegression.
"""

from __future__ import annotations

import numpy as np
from aimaas_client import check, client, csv_bytes, predict, train, upload
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def main() -> None:
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=0, stratify=data.target
    )
    columns = [name.replace(" ", "_") for name in data.feature_names]
    labels = np.array(data.target_names)  # "malignant", "benign"
    with client() as http:
        file_id = upload(
            http,
            "cancer.csv",
            csv_bytes(
                [*columns, "diagnosis"],
                [[*row, label] for row, label in zip(x_train, labels[y_train], strict=True)],
            ),
        )
        train(
            http,
            model="cancer-logistic",
            algorithm="logistic_regression",
            training_file=file_id,
            target="diagnosis",
            hyperparameters={"l2": 1.0},
            seed=0,
        )
        rows = [dict(zip(columns, map(float, row), strict=True)) for row in x_test]
        predictions = predict(http, "cancer-logistic", rows)
    ours = float(np.mean([p["label"] for p in predictions] == labels[y_test]))
    reference = make_pipeline(StandardScaler(), LogisticRegression()).fit(x_train, y_train)
    theirs = reference.score(x_test, y_test)
    first = predictions[0]["probabilities"]
    print(f"first patient: {first}")
    print(f"held-out accuracy: aimaas {ours:.4f}, scikit-learn {theirs:.4f}")
    check(ours >= theirs - 0.01, "accuracy more than 1 point below scikit-learn's")


if __name__ == "__main__":
    main()
