"""Small synthetic tables and a writer for every accepted file form."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from data_contracts import CONTRACTS
from data_contracts.identifiers import make_app_no

TODAY = dt.date(2026, 11, 23)

# Real public codes (domain.md §4).
REAL_USCCS = {
    "华为技术有限公司": "914403001922038216",
    "招商银行股份有限公司": "9144030010001686XA",
    "中国银行股份有限公司": "911000001000013428",
    "深圳市腾讯计算机系统有限公司": "91440300708461136T",
    "中国石油化工股份有限公司": "91110000710926094P",
}


def _enterprises() -> pd.DataFrame:
    names = list(REAL_USCCS)
    return pd.DataFrame(
        {
            "uscc": [REAL_USCCS[n] for n in names],
            "name": names,
            "former_names": ["华为技术公司；华为公司", None, None, "腾讯计算机", None],
            "status": ["存续", "在业", "存续", "存续", "存续"],
            "established": ["1987-09-15", "1987/3/31", "19830101", "1998年11月11日", "2000-02-25"],
            "region_code": ["440300", "440300", "110000", "440300", "110000"],
            "industry_code": ["C3921", "J6621", "J6621", "I6421", "B0710"],
            "size": ["大型", "大型", "大型", "大型", "大型"],
            "employees": ["207000", "110000", "300000", "100000", "380000"],
            "registered_capital": [
                "4104113.182",
                "2521984.5601",
                "29438779.1241",
                "6500",
                "12107120",
            ],
        }
    )


def _patents() -> pd.DataFrame:
    rows = []
    kinds = {1: "发明", 2: "实用新型", 3: "外观设计"}
    for i in range(8):
        type_digit = (1, 2, 3)[i % 3]
        app_year = 2015 + i
        rows.append(
            {
                "app_no": make_app_no(app_year, type_digit, 100_000 + i),
                "app_date": f"{app_year}-03-0{1 + i % 8}",
                "patent_type": kinds[type_digit],
                "title": f"一种电池装置{i}",
                "pub_date": f"{app_year}-09-01",
                "grant_date": f"{app_year + 2}-05-03" if i % 4 else None,
                "ipc_main": "H01M 10/052",
                "ipc_all": "H01M 10/052;H01M 4/00" if i % 2 else "H01M 10/052",
                "claims": str(5 + i),
                "forward_citations": str(i),
                "pct": "是" if i == 1 else "否",
                "applicants": "华为技术有限公司;深圳市腾讯计算机系统有限公司"
                if i == 2
                else "华为技术有限公司",
                "owners": None if i == 3 else "华为技术有限公司",
                "inventors": "张三;李四",
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture
def enterprises() -> pd.DataFrame:
    return _enterprises()


@pytest.fixture
def patents() -> pd.DataFrame:
    return _patents()


def chinese(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Rename canonical columns to their first Chinese alias (full-width brackets, spaces)."""
    contract = CONTRACTS[table]
    names = {}
    for col in frame.columns:
        alias = contract.column(col).aliases[0]
        names[col] = " " + alias.replace("(", "（").replace(")", "）") + " "
    return frame.rename(columns=names)


Writer = Callable[..., Path]


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    """``write(table, frame, fmt="csv", encoding="utf-8", folder=None) -> path``."""

    def _write(
        table: str,
        frame: pd.DataFrame,
        fmt: str = "csv",
        encoding: str = "utf-8",
        folder: Path | None = None,
    ) -> Path:
        folder = folder or tmp_path / "data"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{table}.{fmt}"
        if fmt == "csv":
            path.write_bytes(frame.to_csv(index=False).encode(encoding))
        elif fmt == "xlsx":
            frame.to_excel(path, index=False, engine="xlsxwriter")
        else:
            frame.to_parquet(path, index=False)
        return path

    return _write


@pytest.fixture
def folder(write: Writer, enterprises: pd.DataFrame, patents: pd.DataFrame) -> Path:
    """A valid data folder with the two required tables."""
    write("enterprises", enterprises)
    return write("patents", patents).parent
