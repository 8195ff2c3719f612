"""Recreate the CSVs of the tabular monotone benchmark under /work/bench/tabular_data/.

    /work/bench/.venv/bin/python benchmarks/tabular/make_data.py [--out DIR]

Sources (all offline):
- compas: /work/shared/data/monotone/compas.csv (ProPublica, cleaned as in its README);
  race and sex one-hot encoded as in Liu et al. 2020 / Kitouni et al. 2023
  (monotonic_tests/loaders/compas_loader.py). Monotone increasing: the four count columns.
- heart: /work/shared/data/monotone/heart_{train,test}.csv (the split of niklasnolte/
  monotonic_tests); `id` dropped; the nominal codes cp, restecg, slope, thal one-hot encoded.
  Monotone increasing: trestbps, chol.
- autompg: UCI Auto MPG as shipped in the `vega_datasets` wheel (local `cars`, 406 rows;
  the 14 rows with a missing mpg or horsepower dropped -> the usual 392); Year -> model year
  (70..82), Origin one-hot. Monotone decreasing in displacement, horsepower, weight
  (Liu et al. 2020, Certified Monotonic Neural Networks; Kitouni et al. 2023, auto_mpg.py).
- diabetes: scikit-learn's load_diabetes (Efron et al. 2004; 442 patients, raw units, target
  = disease progression one year after baseline). Monotone increasing in bmi, bp and s5
  (log serum triglycerides): obesity, hypertension and triglycerides are risk factors of
  type-2 diabetes progression, and all three enter the LARS/lasso path of Efron et al. with
  positive coefficients.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

SHARED = Path("/work/shared/data/monotone")


def compas(out: Path) -> None:
    df = pd.read_csv(SHARED / "compas.csv")
    races = ["african_american", "hispanic", "asian", "caucasian", "native_american", "other"]
    for code, name in enumerate(races):
        df[f"race_{name}"] = (df["race"] == code).astype(int)
    df["sex_male"] = (df["sex"] == 0).astype(int)
    df["sex_female"] = (df["sex"] == 1).astype(int)
    cols = ["priors_count", "juv_fel_count", "juv_misd_count", "juv_other_count", "age"] + \
        [f"race_{r}" for r in races] + ["sex_male", "sex_female", "two_year_recid"]
    df[cols].to_csv(out / "compas.csv", index=False)


def heart(out: Path) -> None:
    train = pd.read_csv(SHARED / "heart_train.csv")
    test = pd.read_csv(SHARED / "heart_test.csv")
    both = pd.concat([train, test], keys=["train", "test"]).drop(columns=["id"])
    nominal = ["cp", "restecg", "slope", "thal"]
    levels = {c: sorted(both[c].unique()) for c in nominal}
    for c in nominal:
        for v in levels[c]:
            both[f"{c}_{v}"] = (both[c] == v).astype(int)
    both = both.drop(columns=nominal)
    cols = [c for c in both.columns if c != "target"] + ["target"]
    both.loc["train"][cols].to_csv(out / "heart_train.csv", index=False)
    both.loc["test"][cols].to_csv(out / "heart_test.csv", index=False)


def autompg(out: Path) -> None:
    from vega_datasets import local_data

    df = local_data.cars().dropna(subset=["Miles_per_Gallon", "Horsepower"])
    res = pd.DataFrame({
        "cylinders": df["Cylinders"], "displacement": df["Displacement"],
        "horsepower": df["Horsepower"], "weight": df["Weight_in_lbs"],
        "acceleration": df["Acceleration"],
        "year": pd.to_datetime(df["Year"]).dt.year - 1900})
    for o in ["USA", "Europe", "Japan"]:
        res[f"origin_{o.lower()}"] = (df["Origin"] == o).astype(int)
    res["mpg"] = df["Miles_per_Gallon"]
    assert len(res) == 392, len(res)
    res.to_csv(out / "autompg.csv", index=False)


def diabetes(out: Path) -> None:
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(scaled=False, as_frame=True).frame
    frame = frame.rename(columns={"target": "progression"})
    frame.to_csv(out / "diabetes.csv", index=False)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="/work/bench/tabular_data")
    out = Path(p.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    for make in (compas, heart, autompg, diabetes):
        make(out)
        print("wrote", make.__name__)


if __name__ == "__main__":
    main()
