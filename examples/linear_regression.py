"""Linear regression: the normal equation.

A linear model predicts y ≈ Xw + b. Least squares picks the w that minimises the squared
error ||y - Xw||². Setting its gradient -2Xᵀ(y - Xw) to zero gives the *normal equation*

    XᵀX w = Xᵀy   ->   w = (XᵀX)⁻¹ Xᵀy

(with an L2 penalty λ: w = (XᵀX + λI)⁻¹ Xᵀy, "ridge"). aimaas solves it in closed form on
standardized features (solver "normal_equation"), or by gradient descent if you ask.

This script trains on scikit-learn's diabetes data (10 features, 442 patients), predicts a
held-out quarter through the service, and checks R² against scikit-learn's own
LinearRegression on the same split.
"""

from __future__ import annotations

import numpy as np
from aimaas_client import check, client, csv_bytes, predict, train, upload
from sklearn.datasets import load_diabetes
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split


def main() -> None:
    data = load_diabetes()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=0
    )
    columns = list(data.feature_names)
    with client() as http:
        file_id = upload(
            http,
            "diabetes.csv",
            csv_bytes([*columns, "progression"], np.column_stack([x_train, y_train])),
        )
        train(
            http,
            model="diabetes-linear",
            algorithm="linear_regression",
            training_file=file_id,
            target="progression",
            validation_split=0,
            hyperparameters={"solver": "normal_equation"},
            seed=0,
        )
        rows = [dict(zip(columns, map(float, row), strict=True)) for row in x_test]
        predicted = [p["value"] for p in predict(http, "diabetes-linear", rows)]
    ours = r2_score(y_test, predicted)
    reference = r2_score(y_test, LinearRegression().fit(x_train, y_train).predict(x_test))
    print(f"held-out R²: aimaas {ours:.4f}, scikit-learn {reference:.4f}")
    check(abs(ours - reference) <= 0.01, "R² differs from scikit-learn's by more than 0.01")


if __name__ == "__main__":
    main()
