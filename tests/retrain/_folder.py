"""A small data folder (CSV, canonical headers) whose loan outcomes depend on patents.

Firms with more valid invention patents default less, so a model trained on the real
feature matrix learns something and a model trained on shuffled outcomes does not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from data_contracts.identifiers import make_app_no, make_uscc


def write_data_folder(
    folder: Path,
    n_firms: int = 300,
    seed: int = 0,
    *,
    unknown_loans: int = 1,
    last_report: str = "2025-06-30",
) -> Path:
    """Write enterprises.csv, patents.csv, loans.csv and an empty credit_records.csv into
    ``folder``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ent, pat, loans = [], [], []
    serial = 0
    last = pd.Timestamp(last_report)
    for i in range(n_firms):
        uscc = make_uscc("9", "1", "410100" if i % 3 else "410300", f"{20000000 + i:08d}")
        name = f"河南测试科技{i:04d}有限公司"
        ent.append(
            {
                "uscc": uscc,
                "name": name,
                "status": "存续",
                "established": "2010-01-01",
                "region_code": "410100" if i % 3 else "410300",
                "industry_code": "C3919",
                "size": "小型",
            }
        )
        n_inv = int(rng.poisson(rng.choice([0.5, 3.0, 8.0])))
        for _ in range(n_inv + 1):
            serial += 1
            year = int(rng.integers(2012, 2018))
            app_date = pd.Timestamp(f"{year}-03-01")
            pat.append(
                {
                    "app_no": make_app_no(year, 1, serial),
                    "app_date": app_date.date().isoformat(),
                    "patent_type": "发明",
                    "grant_date": (app_date + pd.DateOffset(years=2)).date().isoformat(),
                    "ipc_main": "G06F 17/30",
                    "claims": int(rng.integers(3, 15)),
                    "applicants": name,
                }
            )
        pd_i = 1 / (1 + np.exp(-(0.5 - 0.45 * n_inv)))
        bad = rng.random() < pd_i
        disbursed = pd.Timestamp("2021-01-01") + pd.Timedelta(days=int(rng.integers(0, 3 * 365)))
        for q in range(1, 9):
            report = disbursed + pd.DateOffset(months=3 * q)
            if report > last:
                break
            sour = bad and q >= 2
            loans.append(
                {
                    "loan_id": f"L{i:05d}",
                    "uscc": uscc,
                    "bank": ["中国工商银行", "中国银行", "郑州银行"][i % 3],
                    "disbursed_on": disbursed.date().isoformat(),
                    "maturity": (disbursed + pd.DateOffset(years=1)).date().isoformat(),
                    "amount": 300.0,
                    "report_date": report.date().isoformat(),
                    "balance": 300.0 if (q <= 4 or sour) else 0.0,
                    "classification": "次级" if sour else "正常",
                    "dpd": 120 if sour else 0,
                    "pledge_reg_no": f"Y{i:06d}",
                    "first_loan": "是" if i % 2 else "否",
                }
            )
    for j in range(unknown_loans):
        loans.append(
            {
                "loan_id": f"X{j:03d}",
                "uscc": make_uscc("9", "1", "410100", f"{30000000 + j:08d}"),
                "bank": "中国银行",
                "disbursed_on": "2022-01-05",
                "maturity": "2023-01-05",
                "amount": 100.0,
                "report_date": "2022-03-31",
                "balance": 100.0,
                "classification": "正常",
                "dpd": 0,
                "pledge_reg_no": "",
                "first_loan": "是",
            }
        )
    pd.DataFrame(ent).to_csv(folder / "enterprises.csv", index=False)
    pd.DataFrame(pat).to_csv(folder / "patents.csv", index=False)
    pd.DataFrame(loans).to_csv(folder / "loans.csv", index=False)
    # one harmless credit record (a run with credit knock-outs refuses an empty table)
    pd.DataFrame(
        [
            {
                "uscc": ent[0]["uscc"],
                "record_type": "纳税信用等级",
                "start_date": "2020-04-01",
                "value": "A",
            }
        ]
    ).to_csv(folder / "credit_records.csv", index=False)
    return folder
