import hashlib

import pandas as pd
import pytest

import screening
from screening import CandidateError, screen
from screening.cli import main
from screening.experimental import default_path


@pytest.fixture(scope="module")
def small(cache, prior):
    return screen(metals=["La", "Ca", "Y", "Pd"], pressures_gpa=[0, 50, 150, 300], cache=cache, progress=False)


def test_screen_returns_ranked_frame_with_provenance(small):
    assert len(small) == 4 * len(screening.DEFAULT_H_PER_METAL) * 4
    for col in ("candidate_id", "formula", "h_per_metal", "pressure_gpa", "prior_score", "rank", "rank_in_metal",
                "prior_training_positive", "MagpieData mean Number", "gravimetric_h_wt_pct",
                "prior_model", "prior_training_data_sha256", "software_versions"):
        assert col in small.columns, col
    # sorted by the synthesizability score; rank keeps the prior's order
    assert small["synth_rank"].tolist() == list(range(1, len(small) + 1))
    assert small["synth_score"].is_monotonic_decreasing
    assert sorted(small["rank"]) == list(range(1, len(small) + 1))
    assert small.sort_values("rank")["prior_score"].is_monotonic_decreasing
    for col in ("synth_score_sigma", "p_min_gpa", "p_min_source", "t_min_k", "t_max_k", "recommended_precursor",
                "term_precursor", "score_weights"):
        assert col in small.columns, col
    assert (small["t_min_k"] < small["t_max_k"]).all()
    assert small["prior_score"].between(0, 1).all()
    for _, g in small.groupby("metals"):
        assert sorted(g["rank_in_metal"]) == list(range(1, len(g) + 1))
    sha = hashlib.sha256(default_path().read_bytes()).hexdigest()
    assert (small["prior_training_data_sha256"] == sha).all()
    assert "matminer=" in small["software_versions"].iloc[0]
    assert small.attrs["provenance"]["n_training_positives"] >= 30


def test_prior_prefers_compressed_superhydrides(small):
    score = small.set_index("candidate_id")["prior_score"]
    # Superhydrides are made under pressure: LaH10 and YH6 must score higher at 150 GPa than at 0 GPa.
    assert score["LaH10@150GPa"] > score["LaH10@0GPa"]
    assert score["YH6@150GPa"] > score["YH6@0GPa"]


def test_training_positives_are_flagged(small):
    flagged = set(small.loc[small["prior_training_positive"], "candidate_id"])
    assert "LaH10@150GPa" in flagged and "CaH6@150GPa" in flagged
    assert "PdH10@150GPa" not in flagged


def test_screen_formulas_and_ternary(cache, prior):
    df = screen(formulas=["LaH10", "CaH6", "H3S", "LaYH20"], pressures_gpa=[150], cache=cache, progress=False)
    assert set(df["formula"]) == {"LaH10", "CaH6", "H3S", "LaYH20"}
    assert df["prior_score"].notna().all()


def test_screen_bad_candidate_frame(cache):
    with pytest.raises(CandidateError, match="lacks column"):
        screen(candidates=pd.DataFrame({"metal": ["La"]}), cache=cache, progress=False)
    with pytest.raises(CandidateError, match="do not also pass metals"):
        screen(metals=["La"], formulas=["LaH10"], cache=cache, progress=False)


def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    assert "screen" in capsys.readouterr().out


def test_cli_screen_writes_csv_and_plot(tmp_path, cache, prior, capsys):
    out, png = tmp_path / "r.csv", tmp_path / "p.png"
    code = main(["screen", "--metals", "La,Ca", "--pressures", "50,150", "--out", str(out), "--plot", str(png),
                 "--cache", str(cache), "--quiet"])
    assert code == 0
    table = pd.read_csv(out)
    assert len(table) == 2 * len(screening.DEFAULT_H_PER_METAL) * 2
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, shown", [(["--pressures", "100,abc"], "'abc'"), (["--metals", "La,Xx"], "'Xx'"),
                                         (["--h-per-metal", "0"], "0.0"), (["--formulas", "LaO"], "'LaO'")])
def test_cli_bad_input_exit_code_and_message(tmp_path, cache, capsys, args, shown):
    code = main(["screen", *args, "--out", str(tmp_path / "x.csv"), "--plot", "", "--cache", str(cache), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and shown in err
    assert not (tmp_path / "x.csv").exists()


def test_tier2_entry_points_are_top_level():
    import inspect

    params = inspect.signature(screening.enthalpy_proxy).parameters
    assert list(params)[:3] == ["candidates", "calculator", "pressures_gpa"]
    params = inspect.signature(screening.melting_temperature).parameters
    assert list(params)[:3] == ["structure", "pressure_gpa", "calculator"]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        screening.nope
