"""Each site's share of the Gaussian noise, and what the noisy sum costs in privacy.

The central mechanism we emulate adds discrete Gaussian noise of variance sigma^2 to a count
vector of L2 sensitivity Delta; that is rho = Delta^2 / (2 sigma^2) zCDP.

Split: with n sites of which up to c may collude with the coordinator, each site adds discrete
Gaussian noise of variance sigma_site^2 = sigma^2 / (n - c), drawn by OpenDP. The colluders know
their own shares and can subtract them; the n - c honest shares that remain still sum to variance
sigma^2. So:

* against any coalition of the coordinator and at most c sites: rho (what the ledgers charge);
* against the coordinator alone (c = 0 colluding in fact): Delta^2 / (2 n sigma_site^2) = rho (n-c)/n,
  i.e. a stronger guarantee, paid for by (n / (n - c)) times the noise variance;
* against c >= n - 1 colluders nothing is hidden by the other sites' noise, so the declared c must
  be below n; with c = n - 1 every site adds the full sigma^2 ("local" DP at rho per site).

A sum of independent *discrete* Gaussians is not exactly a discrete Gaussian. Kairouz, Liu and
Steinke (ICML 2021, "The Distributed Discrete Gaussian Mechanism", Theorem 1) bound it: the sum of
m independent N_Z(0, s^2) per coordinate, s >= 1/2, is (eps^2/2)-zCDP with
eps^2 = Delta^2 / (m s^2) + tau d / 2, tau = 10 sum_{k=1}^{m-1} exp(-2 pi^2 s^2 k/(k+1)), for d
coordinates. We charge rho = Delta^2/(2 m s^2) + tau d / 4 and pick s so that this fits the round's
budget. With s of a few units tau is below 1e-38 and the extra term is negligible, but we charge it.
"""

from __future__ import annotations

import math

import numpy as np

from synthgen.errors import InternalError, InvalidInputError

#: smallest per-site noise scale accepted (the theorem needs s >= 1/2; at 3 tau is ~1e-38)
MIN_SITE_SIGMA = 3.0


def check_collusion(n_sites: int, colluding: int) -> None:
    if isinstance(colluding, bool) or not isinstance(colluding, int) or not 0 <= colluding < n_sites:
        raise InvalidInputError(f"colluding ({colluding!r}) must be an integer between 0 and sites - 1 ({n_sites - 1})")


def tau(sigma_site: float, honest: int) -> float:
    return 10.0 * sum(math.exp(-2 * math.pi**2 * sigma_site**2 * k / (k + 1)) for k in range(1, honest))


def summed_rho(sensitivity: float, sigma_site: float, honest: int, cells: int) -> float:
    """zCDP of the sum of ``honest`` discrete-Gaussian shares of scale ``sigma_site`` (KLS21 Thm 1)."""
    return sensitivity**2 / (2 * honest * sigma_site**2) + tau(sigma_site, honest) * cells / 4


def site_sigma(rho: float, sensitivity: float, n_sites: int, colluding: int, cells: int) -> float:
    """Noise scale of one site's share, so that the honest sites' sum spends at most ``rho``."""
    check_collusion(n_sites, colluding)
    if not rho > 0:
        raise InternalError(f"round rho ({rho}) must be positive")
    honest = n_sites - colluding
    sigma = max(MIN_SITE_SIGMA, sensitivity / math.sqrt(2 * rho * honest))
    for _ in range(64):  # the tau term is tiny; nudge upwards until the charged rho fits
        if summed_rho(sensitivity, sigma, honest, cells) <= rho:
            return sigma
        sigma *= 1 + 1e-9
    raise InternalError(f"could not fit the noise scale to rho {rho}")


def draw_share(counts: np.ndarray, sigma_site: float) -> np.ndarray:
    """counts + this site's discrete Gaussian share, drawn by OpenDP (never seeded, never numpy)."""
    from synthgen._opendp import dp

    measurement = dp.m.make_gaussian(dp.vector_domain(dp.atom_domain(T=int)), dp.l2_distance(T=int), scale=float(sigma_site))
    noisy = measurement([int(v) for v in np.asarray(counts, dtype=np.int64)])
    return np.asarray(noisy, dtype=np.int64)
