"""``synthgen site ...`` (run at each organisation) and ``synthgen federate ...`` (CA, coordinator).

Registered into the main CLI through ``register(subparsers)``; every command validates its
arguments (ε, synthesizer, certificates) before it reads a table or opens a connection.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path


def _credentials(args):
    from synthgen.federation.pki import Credentials

    return Credentials(cert=args.cert, key=args.key, ca=args.ca, crl=args.crl)


def _add_credentials(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cert", required=True, help="this party's certificate (PEM), issued by the federation CA")
    parser.add_argument("--key", required=True, help="this party's private key (PEM)")
    parser.add_argument("--ca", required=True, help="the federation CA certificate (ca.pem)")
    parser.add_argument("--crl", required=True, help="the federation's current revocation list (crl.pem)")


def cmd_ca_init(args) -> int:
    from synthgen.federation.pki import init_ca

    paths = init_ca(args.dir, args.name, days=args.days)
    print(f"wrote {paths.cert}, {paths.key} (keep it with the federation's governance, not the coordinator) and {paths.crl}", file=sys.stderr)
    return 0


def cmd_ca_issue(args) -> int:
    from synthgen.federation.pki import issue

    from synthgen.federation.pki import DEFAULT_HOSTS

    hosts = tuple(args.host or DEFAULT_HOSTS)
    cert, key = issue(args.dir, args.name, args.role, args.out, days=args.days, hosts=hosts)
    print(f"wrote {cert} and {key} ({args.role} {args.name}, valid at {', '.join(hosts)})", file=sys.stderr)
    return 0


def cmd_ca_revoke(args) -> int:
    from synthgen.federation.pki import revoke

    revoke(args.dir, args.cert)
    print(f"revoked {args.cert}; distribute the new {Path(args.dir) / 'crl.pem'} to every party", file=sys.stderr)
    return 0


def cmd_site_approve(args) -> int:
    from datetime import datetime, timezone

    from synthgen.federation.site import Approval
    from synthgen.schema import Schema

    schema = Schema.load(args.schema)
    approval = Approval(
        coordinator=args.coordinator, peers=tuple(p.strip() for p in args.peers.split(",") if p.strip()),
        schema_fingerprint=schema.fingerprint(), max_epsilon_per_fit=args.max_epsilon, total_epsilon=args.total_epsilon,
        delta=args.delta, min_colluding=args.min_colluding, approved_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    state = Path(args.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    approval.save(state / "approval.json")
    print(f"approved: coordinator {approval.coordinator}, peers {', '.join(approval.peers)}, schema {schema.fingerprint()[:12]}, "
          f"at most epsilon {approval.max_epsilon_per_fit:g} per fit and {approval.total_epsilon:g} in total", file=sys.stderr)
    return 0


def cmd_site_status(args) -> int:
    """For the site's owner: the approval, what each fit spent, and whether the audit chain holds."""
    from synthgen.budget import PrivacyBudget, rho_to_epsilon
    from synthgen.federation.site import Approval, AuditLog, Ledger

    state = Path(args.state_dir)
    approval = Approval.load(state / "approval.json")
    ledger = Ledger(state / "ledger.json", PrivacyBudget.from_epsilon(approval.total_epsilon, approval.delta)).read()
    entries = AuditLog(state / "audit.jsonl").verify()
    spent = float(ledger["spent_rho"])
    print(f"coordinator {approval.coordinator}; peers {', '.join(approval.peers)}; schema {approval.schema_fingerprint[:12]}")
    print(f"spent epsilon {rho_to_epsilon(spent, approval.delta):.4g} of {approval.total_epsilon:g} at delta {approval.delta:g} (rho {spent:.6g})")
    for fit_id, fit in ledger["fits"].items():
        rho = sum(fit["rounds"].values())
        print(f"fit {fit_id}: {fit['status']}, coordinator {fit['coordinator']}, rounds {len(fit['rounds'])}, rho {rho:.6g}")
    print(f"audit log: {entries} entries, hash chain intact")
    return 0


def cmd_site_serve(args) -> int:
    from synthgen.federation.site import Approval, Site
    from synthgen.federation.transport import serve, url_host
    from synthgen.io import read_table
    from synthgen.schema import Schema

    credentials = _credentials(args)
    schema = Schema.load(args.schema)
    Approval.load(Path(args.state_dir) / "approval.json")  # refuse to start before the table is read
    frame = read_table(args.data)
    site = Site(args.name, frame, schema, credentials, Path(args.state_dir))
    server = serve(credentials, args.host, args.port, site.handle)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print(f"site {args.name} listening on https://{url_host(server.server_address[0])}:{server.server_address[1]} (mutual TLS)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def cmd_federate_fit(args) -> int:
    from synthgen.cli import _progress_bar
    from synthgen.errors import InvalidInputError
    from synthgen.budget import PrivacyBudget
    from synthgen.federation.coordinator import SiteAddress, check_request, coordinator_name, federated_fit
    from synthgen.schema import Schema
    from synthgen.synthesizers import MST, check_fit_inputs

    sites = [SiteAddress.parse(text) for text in args.sites]
    check_request(sites, args.synthesizer, args.epsilon, args.delta, args.colluding)
    if not str(args.output).endswith(".zip"):
        raise InvalidInputError(f"output ({args.output}) must end in .zip (a synthgen model file)")
    credentials = _credentials(args)
    coordinator_name(credentials)
    schema = Schema.load(args.schema)
    check_fit_inputs(schema, MST(), PrivacyBudget.from_epsilon(args.epsilon, args.delta))
    update, close = _progress_bar("federated fit mst")
    try:
        fit = federated_fit(sites, schema, credentials, epsilon=args.epsilon, delta=args.delta, colluding=args.colluding, progress=update)
    finally:
        close()
    fit.model.save(args.output)
    print(f"wrote {args.output}: federated mst over {len(sites)} sites, fit {fit.plan.fit_id}, rho {fit.plan.rho:.6g} "
          f"(epsilon {args.epsilon:g} at delta {args.delta:g}) charged to every site", file=sys.stderr)
    return 0


def register(sub) -> None:
    from synthgen.cli import Parser, _float_arg as _float, command_group

    site_sub = command_group(sub, "site", "run a federation site next to its table")
    approve = site_sub.add_parser("approve", help="the site owner approves participation (coordinator, peers, schema, budget)")
    approve.add_argument("--state-dir", required=True, help="the site's state directory (approval, ledger, audit log)")
    approve.add_argument("--schema", required=True, help="the schema distributed by the coordinator, reviewed by the owner")
    approve.add_argument("--coordinator", required=True, help="name in the coordinator's certificate")
    approve.add_argument("--peers", required=True, help="comma-separated names of the sites (this one included) allowed in a fit")
    approve.add_argument("--max-epsilon", type=_float("max-epsilon"), required=True, help="most epsilon one fit may spend")
    approve.add_argument("--total-epsilon", type=_float("total-epsilon"), required=True, help="this table's total budget")
    approve.add_argument("--delta", type=_float("delta"), default=1e-9, help="delta (default 1e-9)")
    approve.add_argument("--min-colluding", type=int, default=0, help="refuse fits declaring fewer colluding sites than this")
    approve.set_defaults(handler=cmd_site_approve)
    status = site_sub.add_parser("status", help="the owner's view: approval, spent budget per fit, audit chain check")
    status.add_argument("--state-dir", required=True)
    status.set_defaults(handler=cmd_site_status)
    serve = site_sub.add_parser("serve", help="serve federated rounds over mutual TLS")
    serve.add_argument("--name", required=True, help="this site's name (as in its certificate)")
    serve.add_argument("--data", required=True, help="the site's table (CSV or Parquet); never leaves the site")
    serve.add_argument("--schema", required=True, help="the approved schema")
    serve.add_argument("--state-dir", required=True)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 or :: for every "
                       "interface); the site's certificate must name the host the coordinator dials")
    serve.add_argument("--port", type=int, required=True)
    _add_credentials(serve)
    serve.set_defaults(handler=cmd_site_serve)

    fed_sub = command_group(sub, "federate", "federation CA and coordinator")
    ca = fed_sub.add_parser("ca", help="the federation's certificate authority")
    ca_sub = ca.add_subparsers(dest="ca_command", required=True, parser_class=Parser)
    init = ca_sub.add_parser("init", help="create the CA (key, certificate, empty CRL)")
    init.add_argument("--dir", required=True)
    init.add_argument("--name", required=True, help="federation name")
    init.add_argument("--days", type=int, default=365)
    init.set_defaults(handler=cmd_ca_init)
    issue = ca_sub.add_parser("issue", help="issue a site or coordinator certificate")
    issue.add_argument("--dir", required=True, help="CA directory")
    issue.add_argument("--name", required=True)
    issue.add_argument("--role", required=True, choices=["site", "coordinator"])
    issue.add_argument("--out", required=True, help="directory for NAME.pem and NAME.key")
    issue.add_argument("--days", type=int, default=90)
    issue.add_argument("--host", action="append", metavar="HOST",
                       help="DNS name or IP address the party is reached at, written into the certificate (repeatable; "
                       "default 127.0.0.1 and localhost)")
    issue.set_defaults(handler=cmd_ca_issue)
    revoke = ca_sub.add_parser("revoke", help="revoke a certificate (rewrites crl.pem)")
    revoke.add_argument("--dir", required=True)
    revoke.add_argument("--cert", required=True)
    revoke.set_defaults(handler=cmd_ca_revoke)
    fit = fed_sub.add_parser("fit", help="run a federated fit as the coordinator")
    fit.add_argument("--sites", nargs="+", required=True, metavar="NAME=HOST:PORT")
    fit.add_argument("--schema", required=True, help="the reviewed schema every site approved")
    fit.add_argument("--synthesizer", default="mst", help="mst (the only federated synthesizer so far)")
    fit.add_argument("--epsilon", type=_float("epsilon"), required=True)
    fit.add_argument("--delta", type=_float("delta"), default=1e-9)
    fit.add_argument("--colluding", type=int, default=0, help="sites that may collude with the coordinator (noise shares are set for it)")
    fit.add_argument("-o", "--output", required=True, help="model file to write (.zip)")
    _add_credentials(fit)
    fit.set_defaults(handler=cmd_federate_fit)
