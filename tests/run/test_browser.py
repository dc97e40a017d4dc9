"""End to end in a real browser: each bank's report.html opens in headless Chromium with no
console message, shows the Chinese text and the waterfall charts, and its search and sort
work. Chromium comes from ``make browser-deps`` (Debian's chromium + fonts-noto-cjk)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.run._data import AS_OF, USCC, ToyScorer, build_inputs, make_config, run_into

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CONSOLE = re.compile(r":CONSOLE[:(\]]")

PROBE = """
<script>
(function () {
  var out = [];
  var input = document.querySelector('input[data-filter="firm-list"]');
  input.value = "洛阳";
  input.dispatchEvent(new Event("input"));
  out.push("shown=" + document.getElementById("firm-list-count").textContent);
  input.value = "";
  input.dispatchEvent(new Event("input"));
  var th = document.querySelectorAll("#firm-list th")[5];
  th.click();
  var first = document.querySelector("#firm-list tbody tr").cells[5].textContent;
  out.push("lowest=" + first);
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = out.join(";");
  document.body.appendChild(pre);
})();
</script>
"""


def _chromium(html: Path, tmp: Path) -> tuple[str, str]:
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp}",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("browser") / "out"
    run_into(folder, build_inputs(), ToyScorer(), make_config(), AS_OF)
    return folder


def test_bank_report_renders_without_console_errors(out, tmp_path):
    assert Path(CHROMIUM).exists(), "chromium missing: run `make browser-deps`"
    html = out / "packages" / "bank-a" / "report.html"
    source = html.read_text(encoding="utf-8")
    # self-contained and offline: nothing is fetched (no src/href to another origin)
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", source)
    assert "<script src" not in source and 'rel="stylesheet"' not in source
    probe = tmp_path / "probe.html"
    probe.write_text(source.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom, log = _chromium(probe, tmp_path / "profile")
    assert not CONSOLE.search(log), [line for line in log.splitlines() if "CONSOLE" in line]
    assert "知识产权质押融资授信白名单" in dom
    assert "郑州华科智能装备有限公司" in dom
    assert dom.count("<svg") == 4  # one waterfall per firm section
    assert "评分构成" in dom and "有效发明专利数" in dom
    assert f'id="firm-{USCC["A"]}"' in dom
    match = re.search(r'<pre id="probe">([^<]*)</pre>', dom)
    assert match, "the page script did not run"
    assert match.group(1) == "shown=2;lowest=631.7"


def test_console_errors_are_detected(out, tmp_path):
    """The check above can fail: a page with a script error is caught."""
    html = out / "packages" / "bank-a" / "report.html"
    broken = tmp_path / "broken.html"
    broken.write_text(
        html.read_text(encoding="utf-8").replace("</body>", "<script>nosuch();</script></body>"),
        encoding="utf-8",
    )
    _, log = _chromium(broken, tmp_path / "profile")
    assert CONSOLE.search(log)


def test_run_report_renders(out, tmp_path):
    dom, log = _chromium(out / "run_report.html", tmp_path / "profile")
    assert not CONSOLE.search(log)
    assert "筛选运行报告" in dom and "否决规则触发" in dom


PAGING_PROBE = """
<script>
(function () {
  var out = [];
  function state() {
    var rows = document.querySelectorAll("#firm-list tbody tr");
    return [rows.length, rows.length ? rows[0].cells[0].textContent : "",
            document.getElementById("firm-list-count").textContent,
            document.querySelector('[data-page="current"]').textContent,
            document.querySelector('[data-page="total"]').textContent].join("/");
  }
  out.push("start=" + state());
  document.querySelector('[data-page="next"]').click();
  out.push("next=" + state());
  var heads = document.querySelectorAll("#firm-list th");
  heads[5].click();
  out.push("lowest=" + document.querySelector("#firm-list tbody tr").cells[5].textContent);
  heads[6].click();
  out.push("grade=" + document.querySelector("#firm-list tbody tr").cells[6].textContent);
  var input = document.querySelector('input[data-filter="firm-list"]');
  input.value = "洛阳"; input.dispatchEvent(new Event("input"));
  out.push("search=" + state());
  input.value = ""; input.dispatchEvent(new Event("input"));
  out.push("cleared=" + document.getElementById("firm-list-count").textContent);
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = out.join(";");
  document.body.appendChild(pre);
})();
</script>
"""


def test_long_list_is_paged_sorted_and_searched_as_data(tmp_path, monkeypatch):
    """The firm list is JSON the page pages through (2 rows a page here): only one page is in
    the document, the pager moves, sorting orders every firm (not only the page) and resets
    to page 1, a search counts and pages its hits."""
    import json

    from screening.run import packages

    monkeypatch.setattr(packages, "_PAGE_ROWS", 2)
    run_into(tmp_path / "out", build_inputs(), ToyScorer(), make_config(), AS_OF)
    source = (tmp_path / "out" / "packages" / "bank-a" / "report.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="firm-list-data">(.*?)</script>', source, re.S).group(1))
    n = len(data)
    assert n >= 4 and [r[0] for r in data] == list(range(1, n + 1))
    first_page = source[source.index("<tbody>") : source.index("</tbody>")]
    assert first_page.count("<tr>") == 2  # one page as HTML, for readers without scripts
    lowest = min(data, key=lambda r: float(r[5]))[5]
    best = min((r[6] for r in data), key=lambda g: int(g[1:]))
    # the search keeps the order of the last sorts (by score, then by grade; both stable)
    ordered = sorted(data, key=lambda r: (int(r[6][1:]), float(r[5])))
    found = [r for r in ordered if "洛阳" in " ".join(str(c) for c in r[:10])]
    hits, first_hit = len(found), found[0][0] if found else ""
    assert hits >= 1
    probe = tmp_path / "probe.html"
    probe.write_text(source.replace("</body>", PAGING_PROBE + "</body>"), encoding="utf-8")
    dom, log = _chromium(probe, tmp_path / "profile")
    assert not CONSOLE.search(log), [line for line in log.splitlines() if "CONSOLE" in line]
    match = re.search(r'<pre id="probe">([^<]*)</pre>', dom)
    assert match, "the page script did not run"
    pages = (n + 1) // 2
    assert match.group(1).split(";") == [
        f"start=2/1/{n}/1/{pages}",
        f"next=2/3/{n}/2/{pages}",
        f"lowest={lowest}",
        f"grade={best}",
        f"search={min(hits, 2)}/{first_hit}/{hits}/1/{max(1, (hits + 1) // 2)}",
        f"cleared={n}",
    ]
