"""The one place where OpenDP's contrib features are switched on.

Every other module imports ``dp`` from here, so that enabling "contrib" is a single, reviewed
decision: the mbi-based synthesizers (AIM, MST) live in OpenDP's contrib area.
"""

import opendp.prelude as dp

dp.enable_features("contrib")

__all__ = ["dp"]
