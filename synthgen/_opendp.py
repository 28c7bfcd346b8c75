"""The one place where OpenDP's contrib features are switched on.

Every other module imports ``dp`` from here, so that enabling "contrib" is a single, reviewed
decision: the mbi-based synthesizers (AIM, MST) live in OpenDP's contrib area.
"""

import opendp.prelude as dp

dp.enable_features("contrib")

#: Relative share of a budget left unused whenever we split it into parts that OpenDP composes back.
#: OpenDP 0.16 rounds each part's composition upwards, so n equal parts can sum one or two ulps
#: above the whole and the compositor refuses its own budget (KNOWN-PITFALLS #2; for (ρ, δ) pairs
#: the error reads "unknown ordering between (ρ+, δ-) and (ρ, δ)"). Upward rounding adds about
#: n * 2.2e-16 relative error, far below this slack: budget left unused, never overspent.
SLACK = 1e-9

__all__ = ["SLACK", "dp"]
