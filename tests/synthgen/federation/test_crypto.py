"""Ring, masks, key announcements and noise shares: the cryptographic and DP building blocks."""

import math

import numpy as np
import pytest
from scipy import stats

from synthgen.errors import InvalidInputError
from synthgen.federation import masking, noise
from synthgen.federation.ring import MAX_ABS_VALUE, FixedPointRing, RingOverflowError, ring_sum

SITES = ("site-a", "site-b", "site-c")


def _context(**changes):
    base = dict(fit_id="f" * 32, plan_sha256="0" * 64, round_index=0, measurement="age|sex")
    return masking.MaskContext(**{**base, **changes})


def _keys():
    return {name: masking.new_key_pair() for name in SITES}


def _masks(keys, context, length):
    publics = {n: masking.public_bytes(k) for n, k in keys.items()}
    return {n: masking.mask_for(n, k, publics, context, length) for n, k in keys.items()}


def test_ring_round_trips_signed_values_and_sums_exactly():
    ring = FixedPointRing()
    values = [np.array([5, -3, 0, 2**39]), np.array([-7, 10, 1, -(2**38)]), np.array([1, 1, -1, 3])]
    total = ring.decode(ring_sum([ring.encode(v) for v in values]))
    assert total.tolist() == sum(values).tolist()


def test_ring_refuses_values_that_could_wrap_and_too_many_sites():
    with pytest.raises(RingOverflowError):
        FixedPointRing().encode(np.array([MAX_ABS_VALUE + 1]))
    FixedPointRing().check_capacity(1000)
    with pytest.raises(InvalidInputError, match="could wrap"):
        FixedPointRing(frac_bits=24).check_capacity(1000)


def test_fixed_point_keeps_fractional_bits():
    ring = FixedPointRing(frac_bits=16)
    assert ring.decode(ring.encode([1.5, -2.25])).tolist() == [1.5, -2.25]


def test_pairwise_masks_cancel_in_the_ring_sum():
    keys = _keys()
    masks = _masks(keys, _context(), 1000)
    assert not ring_sum(list(masks.values())).any()
    # any strict subset of sites does not cancel
    assert ring_sum([masks["site-a"], masks["site-b"]]).any()


@pytest.mark.parametrize("change", [
    {"round_index": 1}, {"measurement": "age|income"}, {"plan_sha256": "1" * 64}, {"fit_id": "e" * 32},
])
def test_masks_are_fresh_for_every_round_measurement_plan_and_fit(change):
    keys = _keys()
    first = _masks(keys, _context(), 64)["site-a"]
    other = _masks(keys, _context(**change), 64)["site-a"]
    assert not np.array_equal(first, other)
    # and they still cancel within their own context
    assert not ring_sum(list(_masks(keys, _context(**change), 64).values())).any()


def test_sites_shown_different_plans_get_masks_that_do_not_cancel():
    keys = _keys()
    publics = {n: masking.public_bytes(k) for n, k in keys.items()}
    masks = [masking.mask_for(n, k, publics, _context(plan_sha256=("1" if n == "site-a" else "0") * 64), 32) for n, k in keys.items()]
    assert ring_sum(masks).any()


def test_announcements_bind_fit_and_site(tmp_path):
    from synthgen.federation import pki

    pki.init_ca(tmp_path / "ca", "test")
    pki.issue(tmp_path / "ca", "site-a", "site", tmp_path)
    creds = pki.Credentials(tmp_path / "site-a.pem", tmp_path / "site-a.key", tmp_path / "ca/ca.pem", tmp_path / "ca/crl.pem")
    public = masking.public_bytes(masking.new_key_pair())
    signature = masking.sign_announcement(creds.signing_key(), "f" * 32, "site-a", public)
    masking.verify_announcement(creds.certificate(), "f" * 32, "site-a", public, signature)
    substituted = masking.public_bytes(masking.new_key_pair())
    for args in [("e" * 32, "site-a", public), ("f" * 32, "site-b", public), ("f" * 32, "site-a", substituted)]:
        with pytest.raises(masking.KeyAgreementError, match="does not verify"):
            masking.verify_announcement(creds.certificate(), *args, signature)


def test_site_sigma_gives_each_honest_site_an_nth_of_the_central_variance():
    rho, delta2, cells = 0.005, 2.0, 500
    central = delta2 / math.sqrt(2 * rho)
    for n, c in [(3, 0), (3, 1), (5, 2)]:
        sigma = noise.site_sigma(rho, delta2, n, c, cells)
        assert sigma**2 * (n - c) == pytest.approx(central**2, rel=1e-6)
        assert noise.summed_rho(delta2, sigma, n - c, cells) <= rho
        # against the coordinator alone (nobody colluding in fact) the guarantee is (n-c)/n of rho
        assert delta2**2 / (2 * n * sigma**2) == pytest.approx(rho * (n - c) / n, rel=1e-6)


def test_collusion_must_leave_one_honest_site():
    with pytest.raises(InvalidInputError, match="colluding"):
        noise.site_sigma(0.01, 1.0, 3, 3, 10)


def test_tau_term_is_charged_when_the_share_is_small():
    # tiny per-site noise: the discrete sum is measurably worse than a continuous Gaussian
    assert noise.summed_rho(1.0, 0.6, 3, 100) > 1.0 / (2 * 3 * 0.36) + 1e-3
    assert noise.tau(noise.MIN_SITE_SIGMA, 64) < 1e-30


@pytest.mark.slow
def test_summed_shares_have_the_central_variance():
    """Three OpenDP shares of variance sigma^2/3 sum to variance sigma^2 (statistically)."""
    sigma_central, n = 12.0, 3
    sigma_site = sigma_central / math.sqrt(n)
    zeros = np.zeros(4000, dtype=np.int64)
    total = sum(noise.draw_share(zeros, sigma_site) for _ in range(n))
    # chi-square interval for the variance at 4000 draws: +-7 % covers 99.9 %
    assert np.var(total) == pytest.approx(sigma_central**2, rel=0.07)
    assert abs(np.mean(total)) < 4 * sigma_central / math.sqrt(zeros.size)
    # the shares are integers: spread each over its unit cell before comparing with a continuous
    # normal, otherwise the KS statistic carries the lattice's step (about 0.017 at this sigma)
    # and the test fails by chance about once in ten runs (variance added: 1/12, negligible)
    jitter = np.random.default_rng(0).uniform(-0.5, 0.5, size=zeros.size)
    assert stats.kstest((total + jitter) / math.sqrt(sigma_central**2 + 1 / 12), "norm").pvalue > 1e-4
