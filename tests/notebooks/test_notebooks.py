"""Execute the notebooks on the bundled sample so they cannot rot."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["model_development.ipynb", "whitelist_exploration.ipynb"])
def test_notebook_executes(name, tmp_path, monkeypatch):
    # the kernel inherits TMPDIR: the notebooks' scratch folders (mkdtemp) land in pytest's
    # tmp_path, which pytest prunes, instead of piling up in /tmp on every test run
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    # Committed without outputs: a stale output can never pass for a working cell.
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=600,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    # jupyter_client runs argv "python" of the kernelspec as sys.executable: the venv's.
    assert Path(sys.executable).parent.name == "bin"
    client.execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
