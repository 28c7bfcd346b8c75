"""``synthgen site ...`` and ``synthgen federate ...``: multi-site synthesis (:mod:`synthgen.federation`).

The commands live with the protocol in the library, which needs nothing of the platform; they are
listed here so that the one ``synthgen`` command offers them.
"""

from synthgen.federation.cli import register

__all__ = ["register"]
