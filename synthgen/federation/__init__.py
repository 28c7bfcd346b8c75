"""Multi-site DP synthesis: one synthetic table from several sites' tables, no raw row leaving any.

The union's marginal is the sum of the sites' marginals, so a marginal synthesizer (MST) needs
nothing from a site but sums. Each site adds its share of discrete Gaussian noise (drawn by OpenDP)
to its exact counts, then hides the result under pairwise masks that cancel in the sum (secure
aggregation, Bonawitz et al. 2017, without the dropout-recovery part: a dropout aborts the round).
The coordinator learns only the noisy sum, which carries the noise of one central Gaussian
mechanism.

Modules, one idea each:

* ``ring``        fixed-point encoding into Z_(2^64) and its no-wraparound capacity check
* ``masking``     X25519 agreement, HKDF per (fit, plan, round, measurement, pair), ChaCha20 expansion
* ``noise``       each site's noise share and the accounting of the summed (distributed) Gaussian
* ``pki``         the federation's CA (cryptography's x509), certificates, CRL, mutual-TLS contexts
* ``plan``        the measurement plan every site checks for itself (budget per round, sensitivity)
* ``transport``   JSON over HTTPS with mutual TLS (peer identity and host name both checked)
* ``site``        the site service: approval, ledger, audit log, answering rounds
* ``coordinator`` drives the rounds and aggregates
* ``mst``         federated MST: tree selection and model fitting from aggregated noisy marginals
* ``cli``         ``synthgen site ...`` and ``synthgen federate ...``

Why the site service lives here and not in ``app/``: a site runs at an organisation next to its
table, usually without the platform's database, accounts or dashboard. All it needs is a ledger
file, an append-only audit log and an approval file written by the site's owner; depending on
``app/`` would invert the synthgen -> evaluation -> app layering for no gain.
"""
