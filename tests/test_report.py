"""The offline HTML report: self-contained page, table, figures with provenance, and a headless-Chromium render.

The Chromium part needs Debian's ``chromium`` (``make setup-browser``); without it that test is skipped.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import screening  # noqa: E402
from screening.errors import CandidateError  # noqa: E402
from screening.plots import plot_prior_by_metal  # noqa: E402
from screening.report import build_report, read_plot_provenance, write_plot_provenance  # noqa: E402

TOP = 20
WINDOW = (1400, 2000)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--force-device-scale-factor=1", f"--window-size={WINDOW[0]},{WINDOW[1]}"]


@pytest.fixture(scope="module")
def report_inputs(tmp_path_factory, cache):
    """A real tier-1 ranking (La, Ca at 100 and 150 GPa), two real figures and validation files."""
    d = tmp_path_factory.mktemp("report")
    table = screening.screen(metals=["La", "Ca"], pressures_gpa=[100, 150], cache=cache, progress=False)
    # A later tier's column (picked up by its "window" prefix) and a tier-2 column that is present but empty.
    table["window_gpa_width"] = np.where((table["metal"] == "La") & (table["h_per_metal"] == 2), 50.0, np.nan)
    table["e_above_hull_ev_per_atom"] = np.nan
    ranking = screening.write_ranking(table, d / "ranking.csv")

    plot_prior_by_metal(table, d / "prior_by_metal.png")  # no sidecar: caption from the ranking's columns

    la = table[table["metal"] == "La"].sort_values("h_per_metal")
    fig, ax = plt.subplots(figsize=(5, 3))
    for p, g in la.groupby("pressure_gpa"):
        ax.plot(g["h_per_metal"], g["prior_score"], "o-", label=f"{p:g} GPa")
    ax.set_xlabel("H per La")
    ax.set_ylabel("prior score")
    ax.legend()
    fig.tight_layout()
    png = d / "validation.png"
    fig.savefig(png, dpi=80)
    plt.close(fig)
    prov = table.attrs["provenance"]
    write_plot_provenance(png, {"name": "PU prior", "version": prov["prior_model"], "kind": "tier-1 learned prior"},
                          {"n_bags": prov["prior_config"]["n_estimators"], "seed": prov["prior_config"]["random_state"]},
                          "Prior score of La hydrides against H/M at 100 and 150 GPa.")

    positives = table[table["prior_training_positive"]][["candidate_id", "prior_score", "rank"]]
    positives.to_csv(d / "validation.csv", index=False)
    (d / "validation_summary.json").write_text(json.dumps(
        {"n_positives": int(len(positives)), "scores": {"min": float(positives["prior_score"].min())}}))
    return {"dir": d, "ranking": ranking, "table": table, "out": d / "report.html"}


@pytest.fixture(scope="module")
def report(report_inputs):
    out = build_report(report_inputs["ranking"], report_inputs["dir"], report_inputs["out"], top=TOP)
    return out, out.read_text(encoding="utf-8")


def _table_html(page: str, table_id: str) -> str:
    m = re.search(rf'<table id="{table_id}".*?</table>', page, re.S)
    assert m, f"no table {table_id}"
    return m.group(0)


def test_page_is_self_contained_with_table_and_figures(report, report_inputs):
    out, page = report
    assert out.exists() and page.startswith("<!DOCTYPE html>")
    # Nothing is fetched: no http(s) in any src/href, no external stylesheet or script.
    assert not re.search(r'(src|href)\s*=\s*["\']?\s*(https?:)?//', page, re.I)
    assert "<link" not in page and not re.search(r"<script[^>]+src=", page)
    # Table: top 20 of 52 rows, the chosen columns, the note saying so.
    table = _table_html(page, "ranking-table")
    assert len(re.findall(r"<tr[ >]", table)) == TOP + 1  # header + rows
    assert "Showing the <b>top 20</b> of <b>52</b>" in page
    for col in ("candidate_id", "formula", "h_per_metal", "pressure_gpa", "prior_score", "window_gpa_width"):
        assert f'data-col="{col}"' in table
    assert 'data-col="MagpieData mean Number"' not in table
    assert 'data-col="e_above_hull_ev_per_atom"' not in table and "e_above_hull_ev_per_atom" in page  # named as empty
    # Rows with a (sparse) later-tier result but outside the top 20 get a second table: LaH2 ranks low.
    low = report_inputs["table"].query("metal == 'La' and h_per_metal == 2")
    assert (low["rank"] > TOP).all()
    outside = _table_html(page, "tier2-table")
    assert len(re.findall(r"<tr[ >]", outside)) == len(low) + 1 and all(f"<td>{c}</td>" in outside for c in low["candidate_id"])
    best = report_inputs["table"].iloc[0]["candidate_id"]
    assert f"<td>{best}</td>" in table
    # Both figures embedded as decodable PNG data URIs.
    uris = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(uris) == 2
    assert all(base64.b64decode(u)[:8] == b"\x89PNG\r\n\x1a\n" for u in uris)
    # Header facts.
    assert f"superhydride-screening {screening.__version__}" in page
    assert "python -m screening report" in page and "git commit" in page


def test_captions_name_the_provenance(report, report_inputs):
    _, page = report
    prov = report_inputs["table"].attrs["provenance"]
    # Sidecar caption of validation.png: calculator, settings, caption text.
    assert "Prior score of La hydrides against H/M at 100 and 150 GPa." in page
    assert f"PU prior {prov['prior_model']} (tier-1 learned prior)" in page
    assert "sidecar validation.json" in page and "&quot;n_bags&quot;: 1000" in page
    # No sidecar for prior_by_metal.png: the ranking's tier-1 columns, said so.
    assert "provenance: see ranking columns prior_model" in page
    fig = page[page.index("<b>prior_by_metal.png</b>"):]
    assert prov["prior_model"] in fig[:2000]
    # Validation table and summary.
    assert 'id="validation-table"' in page and 'id="validation-summary"' in page
    assert "scores.min" in page


def test_sidecar_roundtrip_and_stale_warning(tmp_path, report_inputs):
    png = tmp_path / "engine_demo.png"
    shutil.copy(report_inputs["dir"] / "validation.png", png)
    side = write_plot_provenance(png, {"name": "emt", "version": "3.x", "kind": "test"}, {"fmax": 0.05}, "demo")
    assert side == tmp_path / "engine_demo.json"
    data = read_plot_provenance(png)
    assert data["caption"] == "demo" and data["settings"] == {"fmax": 0.05}
    png.write_bytes(png.read_bytes() + b"\0")  # figure changed after its sidecar
    page = build_report(report_inputs["ranking"], tmp_path, tmp_path / "r.html", top=5).read_text()
    assert "caption may be stale" in page
    with pytest.raises(CandidateError, match="engine_demo.svg"):
        write_plot_provenance(tmp_path / "engine_demo.svg", {}, {}, "x")


def test_rows_follow_the_combined_rank_when_present(tmp_path, report_inputs):
    """With a ``synth_rank`` column (screening.score) the table is ordered by it, and the page says so."""
    table = report_inputs["table"].copy()
    table["synth_rank"] = len(table) + 1 - table["rank"]  # the reverse order, to tell the two apart
    table["score_weights"] = "hull=1,prior=0.25"  # provenance: listed in the provenance section, not the table
    ranking = screening.write_ranking(table, tmp_path / "ranking.csv")
    page = build_report(ranking, tmp_path, tmp_path / "r.html", top=3).read_text()
    assert "(by <code>synth_rank</code>, the combined synthesizability score)" in page
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", _table_html(page, "ranking-table").split("<tbody>")[1], re.S)
    worst = table.sort_values("rank").iloc[-1]["candidate_id"]
    assert f"<td>{worst}</td>" in rows[0]
    assert 'data-col="score_weights"' not in page and "hull=1,prior=0.25" in page
    assert "(by <code>rank</code>, the tier-1 prior)" in build_report(ranking, tmp_path, tmp_path / "r2.html", top=3,
                                                                   order_by="rank").read_text()


def test_bad_input_names_the_value(tmp_path, report_inputs, capsys):
    with pytest.raises(CandidateError, match="nope.csv"):
        build_report(tmp_path / "nope.csv", tmp_path, tmp_path / "r.html")
    with pytest.raises(CandidateError, match="top must be a positive integer, got 0"):
        build_report(report_inputs["ranking"], tmp_path, tmp_path / "r.html", top=0)
    with pytest.raises(CandidateError, match="not_a_column"):
        build_report(report_inputs["ranking"], tmp_path, tmp_path / "r.html", extra_columns=["not_a_column"])
    with pytest.raises(CandidateError, match="no_rank"):
        build_report(report_inputs["ranking"], tmp_path, tmp_path / "r.html", order_by="no_rank")
    from screening.cli import main as cli_main

    assert cli_main(["report", "--ranking", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "r.html")]) == 2
    assert "error:" in capsys.readouterr().err


def _physics_ranking(tmp_path, report_inputs):
    """The fixture's ranking with tier-2a numbers on one top row and one row outside the top, a relaxation
    figure of its metal, and a provenance value that tries to end the page's script."""
    table = report_inputs["table"].copy()
    top_id, low_id = table.iloc[0]["candidate_id"], table.iloc[-1]["candidate_id"]
    rows = table["candidate_id"].isin([top_id, low_id])
    table.loc[rows, "dH_r_kj_per_mol_h2"] = -12.5
    table.loc[rows, "enthalpy_status"] = "ok"
    table.loc[rows, "enthalpy_calculator"] = "chgnet 0.3.0 (universal ML potential, not DFT) </script><b>x"
    ranking = screening.write_ranking(table, tmp_path / "ranking.csv")
    metal = table.iloc[0]["metals"]
    shutil.copy(report_inputs["dir"] / "validation.png", tmp_path / f"hydrogenation_{metal}-H.png")
    return table, ranking, top_id, low_id, metal


def _row_data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="row-data">(.*?)</script>', page, re.S)
    assert m, "no row data"
    return json.loads(m.group(1))


def test_compact_columns_physics_mark_and_candidate_panel_data(tmp_path, report_inputs):
    table, ranking, top_id, low_id, metal = _physics_ranking(tmp_path, report_inputs)
    page = build_report(ranking, tmp_path, tmp_path / "r.html", top=TOP).read_text()
    head = _table_html(page, "ranking-table").split("<tbody>")[0]
    # the score and the synthesis window are in the compact set; the rest of the chosen columns are hidden (class x)
    for col in ("synth_score", "p_min_gpa", "t_min_k", "t_max_k", "recommended_precursor", "physics"):
        assert re.search(rf'<th data-col="{col}"(?![^>]*class="x")[^>]*>', head), col
    for col in ("formula", "h_per_metal", "metal_family", "synth_terms_present"):
        assert re.search(rf'<th data-col="{col}"[^>]*class="x"', head), col
    assert 'id="filter"' in page and 'id="allcols"' in page
    # physics mark on the tier-2a rows only, in both tables
    assert f'<tr data-id="{top_id}" class="phys">' in page and f'<tr data-id="{low_id}" class="phys">' in page
    assert page.count('class="phys"') == 2 and page.count('<td data-c="physics">2a</td>') == 2
    # every column of every row in the tables, provenance included, for the panel
    data = _row_data(page)
    assert "</script><b>" not in page.split('id="row-data">')[1].split("</script>")[0]
    assert set(data["rows"]) == set(re.findall(r'<tr data-id="([^"]+)"', page)) >= set(table["candidate_id"].head(TOP))
    assert set(data["columns"]) == set(table.columns)
    row = dict(zip(data["columns"], data["rows"][top_id]["values"]))
    assert row["dH_r_kj_per_mol_h2"] == -12.5 and row["enthalpy_calculator"].endswith("</script><b>x")
    assert row["MagpieData mean Number"] == pytest.approx(float(table.iloc[0]["MagpieData mean Number"]))
    groups = dict(data["groups"])
    assert groups["provenance"] >= 3 and data["rows"][top_id]["physics"] == "2a"
    # figures of the row's system: the hydrogenation plot of its metal, not the others
    fig_id = re.search(rf'<figure id="(fig-\d+)"><img[^>]*alt="hydrogenation_{metal}-H.png"', page).group(1)
    assert data["rows"][top_id]["figures"] == [fig_id]
    other = table[table["metals"] != metal].iloc[0]["candidate_id"]
    if other in data["rows"]:
        assert data["rows"][other]["figures"] == []
    assert "make validate" in page.split('id="validation"')[1][:600]


def _chromium() -> str:
    exe = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
    if not exe:
        pytest.skip("Debian chromium not installed; run 'make setup-browser'")
    return exe


def _run_chromium(exe: str, profile: Path, args: list[str], url: str) -> subprocess.CompletedProcess:
    return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, url],
                          capture_output=True, text=True, timeout=60)


def test_renders_in_headless_chromium(report, report_inputs, tmp_path):
    """Screenshot is a 1400x2000 PNG with visible table text; the DOM after load has every row, the sort JS
    ran (a ``#sort=`` fragment reorders the rows) and both embedded images decoded."""
    from PIL import Image

    exe = _chromium()
    out, _ = report
    url = out.resolve().as_uri()

    shot = tmp_path / "shot.png"
    _run_chromium(exe, tmp_path / "profile1", [f"--screenshot={shot}"], url)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = np.asarray(Image.open(shot).convert("RGB")).astype(float)
    assert img.shape == (WINDOW[1], WINDOW[0], 3)
    grey = img.mean(axis=2)
    assert grey.std() > 20, "screenshot is blank"

    dom = _run_chromium(exe, tmp_path / "profile2", ["--dump-dom"], url + "#sort=prior_score:asc").stdout
    table = _table_html(dom, "ranking-table")
    assert 'data-sort-ready="1"' in table
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>")[1], re.S)
    assert len(rows) == TOP
    col = re.findall(r'<th data-col="([^"]+)"', table).index("prior_score")
    scores = [float(re.findall(r"<td[^>]*>(.*?)</td>", r)[col]) for r in rows]
    assert scores == sorted(scores) and scores[0] < scores[-1], "sort by #sort=prior_score:asc did not run"
    assert re.search(r'data-col="prior_score"[^>]*aria-sort="ascending"', table)
    assert dom.count('data-decoded="1"') == 2

    # The rendered table's rectangle (recorded by the page after load) holds dark text pixels.
    x, y, w, h = (int(v) for v in re.search(r'data-rendered-rect="([-0-9,]+)"', table).group(1).split(","))
    assert w > 300 and h > 100 and y + 50 < WINDOW[1]
    region = grey[y:min(y + h, WINDOW[1]), x:min(x + w, WINDOW[0])]
    dark = (region < 100).mean()
    assert dark > 0.01, f"only {dark:.2%} dark pixels where the table is"
    # The first embedded figure is drawn where the page says it is: coloured plot pixels, not an empty box.
    # Score and window headers are on screen at 1400 px without scrolling sideways.
    for col in ("synth_score", "p_min_gpa", "t_min_k", "t_max_k"):
        x, y, w, h = (int(v) for v in re.search(rf'<th data-col="{col}"[^>]*data-rendered-rect="([-0-9,]+)"',
                                                 table).group(1).split(","))
        assert w > 0 and 0 <= x and x + w <= WINDOW[0], f"{col} header at x={x}..{x + w}, beyond {WINDOW[0]} px"
    m = re.search(r'<img[^>]*data-rendered-rect="([-0-9,]+)"', dom)
    x, y, w, h = (int(v) for v in m.group(1).split(","))
    assert w > 100 and h > 100 and y + h <= WINDOW[1], f"first figure not within the screenshot: {(x, y, w, h)}"
    pic = img[y:y + h, x:x + w]
    coloured = (pic.max(axis=2) - pic.min(axis=2) > 60).mean()
    assert coloured > 0.05, f"only {coloured:.2%} coloured pixels where the first figure is"


def test_filter_and_panel_run_in_headless_chromium(tmp_path, report_inputs):
    """``#filter=`` hides the non-matching rows and ``#row=`` opens the panel of that candidate with its figure."""
    exe = _chromium()
    table, ranking, top_id, _, metal = _physics_ranking(tmp_path, report_inputs)
    out = build_report(ranking, tmp_path, tmp_path / "r.html", top=TOP)
    url = out.resolve().as_uri() + f"#filter={metal}%20100&row={top_id}"
    dom = _run_chromium(exe, tmp_path / "profile", ["--dump-dom"], url).stdout
    rows = re.findall(r'<tr data-id="([^"]+)"[^>]*?(style="display: none;")?>', _table_html(dom, "ranking-table"))
    visible = [cid for cid, hidden in rows if not hidden]
    expected = [c for c in table["candidate_id"].head(TOP) if c.startswith(metal) and "@100GPa" in c]
    assert visible and set(expected) <= set(visible) and len(visible) < TOP
    every = re.findall(r'<tr data-id="([^"]+)"[^>]*?(style="display: none;")?>', dom)  # both tables
    shown, total = (int(v) for v in re.search(r'id="filter-count">(\d+) of (\d+) rows match<', dom).groups())
    assert (shown, total) == (sum(1 for _, hidden in every if not hidden), len(every))
    panel = re.search(r'<aside id="panel"[^>]*>.*?</aside>', dom, re.S).group(0)
    assert "hidden" not in panel.split(">")[0] and f'data-shown="{top_id}"' in panel
    assert "dH_r_kj_per_mol_h2" in panel and "-12.5" in panel and "tier 2a physics" in panel
    assert panel.count("<img") == 1
