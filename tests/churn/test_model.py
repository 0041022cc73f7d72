"""Model selection, baselines, the saved-model guard, BG/NBD and reasons on synthetic logs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.churn import artifact
from engine.churn.artifact import ModelFileError, load_model, save_model
from engine.churn.bgnbd import fit_bgnbd
from engine.churn.dataset import labelled, rolling_splits, snapshot_times, time_split
from engine.churn.features import INDEX, FeatureBuilder
from engine.churn.metrics import roc_auc
from engine.churn.model import CANDIDATES, ChurnDataError, RecencyRule, _rolling_origins, fit_churn_model
from engine.churn.reasons import explain
from engine.churn.service import evaluate_examples, evaluate_over_splits
from engine.churn.settings import ChurnSettings
from tests.churn.synth import community


@pytest.fixture(scope="module")
def examples():
    log, _ = community(n=150, days=220, seed=5)
    b = FeatureBuilder(log)
    return labelled(b, snapshot_times(b, 28, 14, 220.0, 3), 28, 14)


def test_model_ranks_churners_and_is_calibrated(examples) -> None:
    split = time_split(examples, 14)
    assert split is not None and split.test.y is not None
    model = fit_churn_model(split.train, 14, min_examples=50, min_positives=10)
    # every candidate, the baseline's family and the blends were scored on validation
    assert set(model.validation) >= {"hgb", "forest", "logistic-rf", "logistic-all-C0.03", "logistic-all-C3"}
    assert any(name.startswith("blend-") for name in model.validation)
    chosen = model.name.rsplit(":", 1)[0]
    assert model.validation[chosen] >= model.validation["logistic-rf"]
    assert {"hgb-mono", "logistic-rhythm", "spline-rhythm"} <= set(model.validation)
    risk = model.risk(split.test.X)
    assert roc_auc(split.test.y, risk) > 0.8
    assert abs(risk.mean() - split.test.y.mean()) < 0.1  # calibrated: mean risk near the churn rate
    rule = RecencyRule().fit(split.train)
    assert roc_auc(split.test.y, rule.risk(split.test.X)) > 0.6


def test_validation_folds_are_rolling_origins_inside_training(examples) -> None:
    folds = _rolling_origins(examples.t, 14)
    assert len(folds) == 4
    starts = [examples.t[val].min() for _, val in folds]
    assert starts == sorted(starts) and len(set(starts)) == 4
    for fit, val in folds:
        # no fitted label reads the validation block's period; the origin rolls forward
        assert (examples.t[fit] + 14 <= examples.t[val].min()).all()
    assert [len(fit) for fit, _ in folds] == sorted(len(fit) for fit, _ in folds)


class _Coin:
    """A candidate that ranks at random: validation must not choose it."""

    def fit(self, X, y):
        return self

    def predict_proba(self, X):
        p = np.random.default_rng(len(X)).random(len(X))
        return np.column_stack([1 - p, p])


def test_selection_prefers_what_validates_better(examples) -> None:
    model = fit_churn_model(examples, 14, min_examples=50, min_positives=10,
                            candidates={"coin": _Coin, "logistic-rf": CANDIDATES["logistic-rf"]})
    assert model.name == "logistic-rf:community"
    assert model.validation["coin"] < 0.6 < model.validation["logistic-rf"]


def test_eval_reports_every_baseline_and_an_interval(examples) -> None:
    report = evaluate_examples(examples, ChurnSettings(min_train_examples=50, min_train_positives=10), rounds=100)
    assert not report.refused
    assert [r.name.split(" ")[0] for r in report.rows] == ["model", "recency", "logistic-rf", "bgnbd"]
    assert report.ci_low <= report.diff <= report.ci_high
    assert report.ci_logistic_low <= report.diff_logistic <= report.ci_logistic_high
    assert report.diff_logistic == pytest.approx(report.rows[0].roc_auc - report.rows[2].roc_auc)
    assert all(0 <= r.brier <= 1 and 0 <= r.roc_auc <= 1 for r in report.rows)


def test_one_sided_or_tiny_history_is_refused(examples) -> None:
    assert examples.y is not None
    all_active = examples.where(examples.y == 0)
    with pytest.raises(ChurnDataError, match="churned"):
        fit_churn_model(all_active, 14, min_examples=10, min_positives=5)
    with pytest.raises(ChurnDataError, match="labelled examples"):
        fit_churn_model(examples.where(np.arange(len(examples)) < 5), 14)


def test_saved_model_loads_back_and_tampering_is_refused(examples, tmp_path: Path, monkeypatch) -> None:
    model = fit_churn_model(examples, 14, min_examples=50, min_positives=10)
    save_model(model, tmp_path, "7")
    loaded = load_model(tmp_path, "7")
    assert loaded is not None
    np.testing.assert_allclose(loaded.risk(examples.X[:50]), model.risk(examples.X[:50]))
    assert load_model(tmp_path, "8") is None
    blob, _ = artifact.model_paths(tmp_path, "7")
    blob.write_bytes(blob.read_bytes() + b"x")
    with pytest.raises(ModelFileError, match="SHA-256"):
        load_model(tmp_path, "7")
    save_model(model, tmp_path, "7")
    # a model of the previous format (before the rhythm features) is refused until retrained
    import json

    _, manifest_path = artifact.model_paths(tmp_path, "7")
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps(manifest | {"format_version": 2, "features": manifest["features"][:34]}))
    with pytest.raises(ModelFileError, match="format 2, expected 3"):
        load_model(tmp_path, "7")
    save_model(model, tmp_path, "7")
    monkeypatch.setattr(artifact.sklearn, "__version__", "0.0.1")
    with pytest.raises(ModelFileError, match="scikit-learn"):
        load_model(tmp_path, "7")


def test_bgnbd_recovers_a_simulated_population() -> None:
    rng = np.random.default_rng(0)
    n, T = 3000, 60.0
    lam = rng.gamma(2.0, 1 / 4.0, n)   # r=2, alpha=4
    p = rng.beta(1.0, 4.0, n)           # a=1, b=4
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:
                break
    model = fit_bgnbd(x, t_x, np.full(n, T))
    assert 1.0 < model.r < 4.0 and 0.5 < model.a / (model.a + model.b) * 5 < 2.0
    # the same history ending earlier means less likely alive
    assert model.p_alive(np.array([5.0]), np.array([10.0]), np.array([60.0]))[0] < \
        model.p_alive(np.array([5.0]), np.array([55.0]), np.array([60.0]))[0]


def test_a_candidate_ahead_on_average_but_behind_on_most_folds_does_not_replace_the_baseline() -> None:
    from engine.churn.model import BASELINE, _Validation, choose

    y = np.array([0] * 10 + [1] * 10, dtype=np.int8)
    base = np.concatenate([np.arange(10.0), np.arange(10.0) + 6.5])      # 6 pairs out of order
    worse = base.copy()
    worse[13] -= 1.0                                                     # one pair more
    perfect = np.concatenate([np.arange(10.0), np.arange(10.0) + 10.5])
    v = _Validation([y] * 4, {BASELINE: [base] * 4, "lucky": [perfect, worse, worse, worse]})
    # the premise: ahead on average, behind on 3 of the 4 folds
    assert v.score("lucky") > v.score(BASELINE) and v.wins("lucky", BASELINE) == (1, 4)
    assert choose(v, [BASELINE, "lucky"], rule="mean") == "lucky"
    assert choose(v, [BASELINE, "lucky"]) == BASELINE
    # at least as good on most folds and ahead on average: it replaces the baseline
    v.preds["lucky"] = [perfect, perfect, base, worse]
    assert v.wins("lucky", BASELINE) == (3, 4) and choose(v, [BASELINE, "lucky"]) == "lucky"
    # a tie in every fold: the earlier (simpler) candidate
    v.preds["lucky"] = [base] * 4
    assert choose(v, [BASELINE, "lucky"]) == BASELINE


def test_reasons_word_what_pushed_risk_up(examples) -> None:
    model = fit_churn_model(examples, 14, min_examples=50, min_positives=10)
    risk = model.risk(examples.X)
    top = np.argsort(-risk)[:20]
    words = explain(examples.X[top], model.risk, model.reference)
    assert any(words)
    for reasons, row in zip(words, examples.X[top], strict=True):
        assert len(reasons) <= 3
        assert [r.weight for r in reasons] == sorted((r.weight for r in reasons), reverse=True)
        for r in reasons:
            assert r.weight > 0 and r.text_en and r.text_zh
            if r.feature == "silence":
                assert f"{round(float(row[INDEX['days_since_active']]))} day" in r.text_en


def test_reason_texts_for_a_drop_and_unanswered_questions() -> None:
    from engine.churn.features import FEATURES

    ref = np.zeros(len(FEATURES))
    ref[INDEX["act_14"]], ref[INDEX["act_28"]], ref[INDEX["active_days_28"]] = 10, 20, 10
    row = ref.copy()
    row[INDEX["act_14"]], row[INDEX["act_28"]], row[INDEX["active_days_28"]] = 2, 12, 3
    row[INDEX["unanswered_last3"]] = 3

    def risk(X):  # risk rises as recent activity falls and questions go unanswered
        return 0.1 + 0.03 * (10 - X[:, INDEX["act_14"]]) + 0.1 * X[:, INDEX["unanswered_last3"]]

    (reasons,) = explain(row[None, :].astype(np.float32), risk, ref)
    texts = [r.text_en for r in reasons]
    assert "no reply to their last 3 questions" in texts
    assert "activity fell 80 % over two weeks" in texts
    assert any(r.text_zh == "最近 3 次提问都没有人回复" for r in reasons)


def test_silence_is_worded_against_the_members_own_rhythm() -> None:
    from engine.churn.features import FEATURES

    ref = np.zeros(len(FEATURES))
    ref[INDEX["days_since_active"]], ref[INDEX["overdue"]], ref[INDEX["gap_recent"]] = 2, 1, 2
    row = ref.copy()
    row[INDEX["days_since_active"]], row[INDEX["overdue"]], row[INDEX["gap_recent"]] = 12, 4, 3

    def risk(X):  # risk rises with being overdue against one's own rhythm
        return 0.1 + 0.1 * X[:, INDEX["overdue"]]

    (reasons,) = explain(row[None, :].astype(np.float32), risk, ref)
    assert [(r.feature, r.text_en, r.text_zh) for r in reasons] == [
        ("silence", "silent for 12 days, usually active every 3 days", "已经 12 天没有动静（平时约每 3 天活跃一次）")]
    row[INDEX["overdue"]] = 1.5          # not overdue against their rhythm: plain silence
    (reasons,) = explain(row[None, :].astype(np.float32), risk, ref)
    assert [r.text_en for r in reasons] == ["silent for 12 days"]


def test_rolling_windows_each_train_before_they_test(examples) -> None:
    splits = rolling_splits(examples, 14, n_splits=3, share=0.4)
    assert len(splits) == 3
    for sp in splits:
        assert sp.train.t.max() + 14 <= sp.test.t.min() == sp.test_start
    assert sorted(sp.test_start for sp in splits) == [sp.test_start for sp in splits]
    report = evaluate_over_splits(examples, ChurnSettings(min_train_examples=50, min_train_positives=10), n_splits=3)
    assert len(report.splits) + len(report.skipped) == 3
    model = report.roc_auc("model")
    assert len(model) == len(report.splits) == len(report.roc_auc("recency"))
    mean, sd = report.summary("model")
    assert mean == pytest.approx(np.mean(model)) and sd >= 0
    logit_wins, recency_wins = report.met()
    assert 0 <= logit_wins <= len(model) and 0 <= recency_wins <= len(model)
