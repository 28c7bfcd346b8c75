"""``synthgen federate register MODEL.zip --name NAME``: a data owner registers a federated fit.

The model file is the one ``synthgen federate fit`` wrote. The platform stores no table for it:
it becomes a dataset of kind federated whose budget is the fit's ε at δ (already charged at each
site, recorded here as spent) and one release sampled from the model, which a privacy officer
reviews on its DP accounting (see app.core.services.federated).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from app.cli.common import as_admin, user_flag
from app.core.classification import LABELS
from synthgen.cli import command_group
from synthgen.errors import InvalidInputError


def cmd_federate_register(args: argparse.Namespace) -> int:
    path = Path(args.model)
    if not path.is_file():
        raise InvalidInputError(f"model ({args.model!r}) must be an existing file written by 'synthgen federate fit'")
    data = path.read_bytes()
    rel = as_admin(args, lambda platform, actor: platform.register_federated(actor, path.name, data, name=args.name,
                                                                                 classification=args.classification))
    fed = rel.federation
    print(f"registered federated fit {fed['fit_id']} as dataset {rel.dataset_id} ({rel.dataset_name!r}) with release "
          f"{rel.id}: epsilon {rel.epsilon:.4g} at delta {rel.delta:g} across {len(fed['sites'])} sites "
          f"({', '.join(fed['sites'])}), colluding {fed['colluding']}; {rel.rows} synthetic rows sampled; "
          "utility and risk not measured (no real table on the platform): a privacy officer decides on the accounting")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    fsub = command_group(subparsers, "federate", "federation CA and coordinator")
    p = fsub.add_parser("register", help="data owner: register a federated fit's model file on the platform")
    p.add_argument("model", help="the .zip written by 'synthgen federate fit'")
    p.add_argument("--name", required=True, help="the dataset's name on the platform")
    p.add_argument("--classification", required=True, choices=LABELS,
                   help="the union's data classification (sets how many privacy officers approve, and for how long "
                        "releases stay published)")
    user_flag(p)
    p.set_defaults(handler=cmd_federate_register)
