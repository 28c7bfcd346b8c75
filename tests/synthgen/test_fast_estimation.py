"""The NumPy estimator (same estimate as mbi's mirror descent), AIM's final iterations, the
default synthesizer chosen from the schema alone, and the per-distinct-value category encoding."""

import itertools

import numpy as np
import pandas as pd
import pytest

import synthgen.synthesizers._numpy_md as numpy_md
from synthgen.budget import PrivacyBudget
from synthgen.encoding import normalised
from synthgen.errors import InvalidInputError
from synthgen.schema import normalise_category
from synthgen.synthesizers import AIM, config_from_dict, fit, registry
from synthgen.synthesizers.marginal import _numpy_model

from tests.synthgen.helpers import titanic_small

BUDGET = PrivacyBudget.from_epsilon(1.0, 1e-9)


def _measurements():
    from mbi import Domain, LinearMeasurement

    rng = np.random.default_rng(0)
    names, sizes = list("abcdefgh"), [3, 4, 2, 5, 3, 2, 4, 3]
    domain = Domain(names, sizes)
    data = rng.integers(0, sizes, size=(3000, 8))
    data[:, 1] = (data[:, 0] + data[:, 1]) % 4
    data[:, 3] = (data[:, 1] + rng.integers(0, 2, 3000)) % 5
    data[:, 6] = (data[:, 3] + data[:, 5]) % 4
    out = []
    # a cycle (a-b-d-c-a: junction-tree nodes of three columns), a chain, and a separate
    # component (e-h): marginals must cross nodes and components
    cliques = [(n,) for n in names] + [("a", "b"), ("b", "d"), ("c", "d"), ("a", "c"), ("d", "g"), ("f", "g"), ("e", "h")]
    for clique in cliques:
        idx = [names.index(x) for x in clique]
        shape = [sizes[i] for i in idx]
        counts = np.bincount(np.ravel_multi_index(tuple(data[:, i] for i in idx), shape), minlength=int(np.prod(shape)))
        out.append(LinearMeasurement(counts + rng.normal(0, 3, counts.size), clique, 3.0))
    return domain, out


def test_numpy_mirror_descent_gives_mbis_estimate_cold_and_warm():
    from mbi.estimation import mirror_descent

    domain, measurements = _measurements()
    assert numpy_md.supported(measurements)
    reference = mirror_descent(domain, measurements, iters=60)
    ours = _numpy_model(domain, measurements, None, 60)
    queries = list(itertools.combinations(domain.attrs, 2)) + [("a", "g", "e"), ("h", "b", "f"), ("g", "a"), ("d",)]
    for clique in queries:  # counts of about 3000 rows: equal up to float rounding of the descent
        np.testing.assert_allclose(np.asarray(ours.project(clique).values),
                                   np.asarray(reference.project(clique).values), rtol=1e-6, atol=1e-3)
    warm_ref = mirror_descent(domain, measurements, potentials=reference.potentials, iters=10)
    warm = _numpy_model(domain, measurements, ours.potentials, 10)
    np.testing.assert_allclose(np.asarray(warm.project(("a", "g")).values),
                               np.asarray(warm_ref.project(("a", "g")).values), rtol=1e-6, atol=1e-3)
    assert float(warm.total) == pytest.approx(float(warm_ref.total))


def test_aim_with_the_numpy_estimator_spends_exactly_its_budget(monkeypatch):
    calls = []
    real = numpy_md.mirror_descent
    monkeypatch.setattr(numpy_md, "mirror_descent", lambda *a, **k: calls.append(k.get("iters")) or real(*a, **k))
    frame, schema = titanic_small()
    model = fit(frame, schema, AIM(rounds=4, estimation_iters=20, final_iters=30, max_model_mb=2.0), BUDGET)
    assert calls and calls[-1] == 30  # every round's fit, then the final iterations, in NumPy
    # what the model records is what OpenDP's compositor says was consumed: the whole budget
    assert model.info["budget"]["rho"] == pytest.approx(BUDGET.rho, rel=1e-9)
    assert len(model.sample(50, rng=np.random.default_rng(0))) == 50


@pytest.mark.parametrize("value", [-1, 0.5, True, 10_001])
def test_final_iters_is_validated(value):
    with pytest.raises(InvalidInputError, match="final_iters"):
        AIM(final_iters=value)


def test_final_iters_round_trips():
    assert config_from_dict(AIM(final_iters=500).to_dict()) == AIM(final_iters=500)
    assert AIM().final_iters > 0


def test_the_default_synthesizer_depends_on_the_schemas_width_only():
    limit = registry.AIM_DEFAULT_MAX_COLUMNS
    assert registry.default_for(15) == "aim"
    assert registry.default_for(limit) == "aim"
    assert registry.default_for(limit + 1) == "mst"
    for bad in (-1, 2.5, True, "15"):
        with pytest.raises(InvalidInputError, match="columns"):
            registry.default_for(bad)
    assert all(f.tradeoff for f in registry.all_facts())


def test_cli_fit_defaults_to_aim_on_a_narrow_table(tmp_path, capsys):
    from synthgen.cli import main

    frame, schema = titanic_small()
    frame.to_csv(tmp_path / "t.csv", index=False)
    schema.save(tmp_path / "s.json")
    # no ε: refused before any data is read, and the message names the default it chose
    code = main(["fit", str(tmp_path / "t.csv"), "--schema", str(tmp_path / "s.json"), "-o", str(tmp_path / "m.zip")])
    assert code == 2
    assert "required for the DP synthesizer aim" in capsys.readouterr().err
    # every engine counts for AIM too, so the out-of-core default is the same
    code = main(["fit", str(tmp_path / "t.csv"), "--schema", str(tmp_path / "s.json"), "--engine", "polars",
                 "-o", str(tmp_path / "m.zip")])
    assert code == 2
    assert "required for the DP synthesizer aim" in capsys.readouterr().err


@pytest.mark.parametrize("values", [
    pd.Series(["a", " b", None, np.nan, "a", ""]),
    pd.Series([1, 2, 3, 2]),
    pd.Series([1.0, np.nan, 2.5, 1.0]),
    pd.Series([True, 1, "x", 1.0]),  # 1, 1.0 and True are one value to factorize, three here
    pd.Series(["a", "b", None], dtype="string"),
    pd.Series([True, False, True]),
])
def test_categories_normalised_once_per_value_equal_the_per_row_path(values):
    assert list(normalised(values)) == list(values.map(normalise_category, na_action=None))


def _random_domain(rng: np.random.Generator, n: int):
    """n columns of 1-5 values each, and up to 2n random cliques of 1-4 of them."""
    from mbi import Domain

    names = [f"c{i}" for i in range(n)]
    domain = Domain(names, [int(x) for x in rng.integers(1, 6, n)])
    cliques = [tuple(rng.choice(names, size=int(rng.integers(1, min(4, n) + 1)), replace=False))
               for _ in range(int(rng.integers(0, 2 * n)))]
    return names, domain, cliques


def test_the_fast_greedy_order_is_mbis():
    from synthgen.synthesizers import _fast_jtree

    _fast_jtree.install()
    original = _fast_jtree._original
    rng = np.random.default_rng(0)
    for trial in range(150):
        names, domain, cliques = _random_domain(rng, int(rng.integers(2, 14)))
        elim = [a for a in names if rng.random() < 0.6] if trial % 3 == 0 else None
        assert _fast_jtree.greedy_order(domain, cliques, elim=None if elim is None else list(elim)) == \
            original(domain, cliques, elim=None if elim is None else list(elim))


def test_the_fast_model_size_is_mbis():
    from synthgen.synthesizers import _fast_jtree

    _fast_jtree.install()
    original = _fast_jtree._original_size
    rng = np.random.default_rng(1)
    for trial in range(200):
        n = int(rng.integers(1, 14))
        names, domain, cliques = _random_domain(rng, n)
        if trial % 4 == 0:  # trees take mbi's other path
            cliques = [(names[i], names[int(rng.integers(0, i))]) for i in range(1, n)]
        assert _fast_jtree.hypothetical_model_size(domain, cliques) == pytest.approx(original(domain, cliques), abs=1e-12)
