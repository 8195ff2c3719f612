"""The four tables of the tabular monotone benchmark: files, columns, monotone priors, task.

Every harness (jacnet sweeps, peers, the published protocol) takes its splits from
`split(name, seed)`, which calls jacnet's own file reader with the settings the command line
uses (`data.test_fraction=0.2`, `data.val_fraction=0.15`, split seeded by `seed`), so a seed
gives every model the same training, validation and test rows.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(os.environ.get("TABULAR_DATA", Path(tempfile.gettempdir()) / "jacnet-bench" / "tabular_data"))
VAL_FRACTION = 0.15
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class Table:
    name: str
    file: str
    x: list[str]
    y: str
    task: str  # "cls" (0/1 label, loss=bce) or "reg" (mse)
    increasing: list[str] = field(default_factory=list)
    decreasing: list[str] = field(default_factory=list)
    test_file: str | None = None  # a fixed test file (heart); else a seeded 20 % split
    prior: str = ""

    @property
    def path(self) -> str:
        return str(DATA / self.file)

    @property
    def test_path(self) -> str | None:
        return None if self.test_file is None else str(DATA / self.test_file)

    @property
    def monotone(self) -> list[tuple[int, float]]:
        """(column index, sign) of each monotone input."""
        return [(self.x.index(c), 1.0) for c in self.increasing] + \
            [(self.x.index(c), -1.0) for c in self.decreasing]

    def overrides(self) -> list[str]:
        """The jacnet command-line overrides that select this table and its prior."""
        out = ["data=file", f"data.path={self.path}", f"data.x=[{','.join(self.x)}]",
               f"data.y=[{self.y}]", "activation=monotone_in"]
        if self.test_path:
            out.append(f"data.test_path={self.test_path}")
        if self.increasing:
            out.append(f"activation.inputs=[{','.join(self.increasing)}]")
        if self.decreasing:
            out.append(f"activation.decreasing=[{','.join(self.decreasing)}]")
        if self.task == "cls":
            out.append("loss=bce")
        return out


_RACES = ["african_american", "hispanic", "asian", "caucasian", "native_american", "other"]
_HEART = ["age", "sex", "trestbps", "chol", "fbs", "thalach", "exang", "oldpeak", "ca",
          "cp_0", "cp_1", "cp_2", "cp_3", "cp_4", "restecg_0", "restecg_1", "restecg_2",
          "slope_1", "slope_2", "slope_3", "thal_0", "thal_1", "thal_2", "thal_3", "thal_4"]

TABLES: dict[str, Table] = {t.name: t for t in [
    Table("compas", "compas.csv",
          ["priors_count", "juv_fel_count", "juv_misd_count", "juv_other_count", "age"]
          + [f"race_{r}" for r in _RACES] + ["sex_male", "sex_female"],
          "two_year_recid", "cls",
          increasing=["priors_count", "juv_fel_count", "juv_misd_count", "juv_other_count"],
          prior="increasing in the four count columns (Liu et al. 2020)"),
    Table("heart", "heart_train.csv", _HEART, "target", "cls",
          increasing=["trestbps", "chol"], test_file="heart_test.csv",
          prior="increasing in trestbps, chol (LMN, Kitouni et al. 2023)"),
    Table("autompg", "autompg.csv",
          ["cylinders", "displacement", "horsepower", "weight", "acceleration", "year",
           "origin_usa", "origin_europe", "origin_japan"], "mpg", "reg",
          decreasing=["displacement", "horsepower", "weight"],
          prior="mpg decreasing in displacement, horsepower, weight (Liu et al. 2020; "
                "Kitouni et al. 2023)"),
    Table("diabetes", "diabetes.csv",
          ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"], "progression", "reg",
          increasing=["bmi", "bp", "s5"],
          prior="progression increasing in bmi, bp, s5 (risk factors; positive in the "
                "LARS/lasso path of Efron et al. 2004)"),
    Table("boston", "boston.csv",
          ["crim", "zn", "indus", "chas", "nox", "rm", "age", "dis", "rad", "tax", "ptratio",
           "lstat"], "medv", "reg", increasing=["rm"], decreasing=["crim", "lstat"],
          prior="median value increasing in rm, decreasing in crim, lstat (Harrison & "
                "Rubinfeld 1978)"),
    Table("housing", "housing.csv",
          ["lotsize", "bedrooms", "bathrms", "stories", "driveway", "recroom", "fullbase",
           "gashw", "airco", "garagepl", "prefarea"], "price", "reg",
          increasing=["lotsize", "bathrms", "stories", "garagepl"],
          prior="price increasing in lotsize, bathrms, stories, garagepl (Anglin & Gencay "
                "1996)"),
    Table("computers", "computers.csv",
          ["speed", "hd", "ram", "screen", "cd", "multi", "premium", "ads", "trend"], "price",
          "reg", increasing=["speed", "hd", "ram", "screen"],
          prior="price increasing in speed, hd, ram, screen (Stengos & Zacharias 2006)"),
    Table("caschool", "caschool.csv",
          ["str", "mealpct", "calwpct", "elpct", "avginc", "expnstu", "compstu", "enrltot"],
          "testscr", "reg", increasing=["avginc"], decreasing=["str", "mealpct", "elpct"],
          prior="test score decreasing in str, mealpct, elpct, increasing in avginc (Stock "
                "& Watson)"),
]}


@dataclass
class Split:
    x_train: "object"
    y_train: "object"
    x_val: "object"
    y_val: "object"
    x_test: "object"
    y_test: "object"


def split(name: str, seed: int, val_fraction: float = VAL_FRACTION) -> Split:
    """The rows jacnet's `data=file` uses for `seed` (numpy float64 arrays, y 1-D)."""
    from jacnet_cli.data.files import FileData

    t = TABLES[name]
    fd = FileData(path=t.path, x=list(t.x), y=[t.y], test_path=t.test_path,
                  test_fraction=TEST_FRACTION, val_fraction=val_fraction)
    ds = fd.load(seed, labels=t.task == "cls")
    a = lambda v: None if v is None else v.numpy().copy()  # noqa: E731
    return Split(a(ds.x_train), a(ds.y_train)[:, 0], a(ds.x_val),
                 None if ds.y_val is None else a(ds.y_val)[:, 0], a(ds.x_test),
                 a(ds.y_test)[:, 0])
