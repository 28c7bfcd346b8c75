"""``synthgen releases list|download``: approved releases through the HTTP API (API token).

``download`` verifies the SHA-256 against the manifest before the file is renamed into place
(``DIR/release-ID-synthetic.<fmt>``, with the manifest beside it)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

from app.cli.common import (CHUNK, EXIT_BAD_INPUT, EXIT_ERROR, api_client, api_token_of,
                             check, die, positive_int, remote_flags, request)
from synthgen.cli import command_group


def cmd_releases_list(args: argparse.Namespace) -> int:
    params = {"dataset": args.dataset} if args.dataset else {}
    with api_client(args, token=api_token_of(args)) as client:
        releases = check(request(client, "GET", "/releases", params=params))["releases"]
    if args.json:
        print(json.dumps(releases, indent=2))
        return 0
    if not releases:
        print("no releases visible to you", file=sys.stderr)
        return 0
    print(f"{'ID':>5}  {'DATASET':<20} {'CLASS':<12} {'STATE':<13} {'SYNTHESIZER':<15} {'EPSILON':>8}  UPDATED")
    for r in releases:
        eps = f"{r['epsilon']:.3g}" if r["epsilon"] is not None else "non-DP"
        print(f"{r['id']:>5}  {r['dataset'][:20]:<20} {r['classification']:<12} {r['state']:<13} "
              f"{r['synthesizer'][:15]:<15} {eps:>8}  {r['updated_at'][:19]}")
    return 0


def download_release(args: argparse.Namespace) -> Path:
    """Download, verify against the manifest, then rename into place; returns the file."""
    out_dir = Path(args.output)
    if out_dir.exists() and not out_dir.is_dir():
        die(EXIT_BAD_INPUT, f"output ({out_dir}) must be a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"synthetic.{args.format}"
    with api_client(args, token=api_token_of(args)) as client:
        manifest = check(request(client, "GET", f"/releases/{args.id}/manifest"))
        expected = (manifest.get("files", {}).get(name) or {}).get("sha256")
        if not expected:
            die(EXIT_BAD_INPUT, f"the manifest of release {args.id} lists no {name}")
        final = out_dir / f"release-{args.id}-synthetic.{args.format}"
        tmp = out_dir / f".{final.name}.{os.getpid()}.part"
        digest = hashlib.sha256()
        size = 0
        try:
            import httpx

            try:
                with client.stream("GET", f"/releases/{args.id}/download", params={"format": args.format}) as resp:
                    if not resp.is_success:
                        resp.read()
                        check(resp)
                    announced = resp.headers.get("x-checksum-sha256")
                    with open(tmp, "wb") as fh:
                        for block in resp.iter_bytes(CHUNK):
                            digest.update(block)
                            size += len(block)
                            fh.write(block)
                        fh.flush()
                        os.fsync(fh.fileno())
            except httpx.TransportError as exc:
                die(EXIT_ERROR, f"download of release {args.id} was interrupted: {type(exc).__name__}: {exc}")
            actual = digest.hexdigest()
            if actual != expected:
                die(EXIT_BAD_INPUT, f"checksum mismatch for {final.name}: expected SHA-256 {expected} (manifest), "
                                     f"got {actual}; the download was discarded")
            if announced and announced != expected:
                die(EXIT_BAD_INPUT, f"checksum mismatch for {final.name}: server announced {announced}, manifest "
                                     f"says {expected}; the download was discarded")
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
    manifest_path = out_dir / f"release-{args.id}-manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"verified SHA-256 {expected} ({size:,} bytes) against the manifest", file=sys.stderr)
    return final


def cmd_releases_download(args: argparse.Namespace) -> int:
    print(download_release(args))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    rsub = command_group(subparsers, "releases", "list and download approved releases (HTTP API)")
    p = rsub.add_parser("list", help="releases visible to you")
    p.add_argument("--dataset", help="only releases of this dataset")
    p.add_argument("--json", action="store_true", help="print JSON")
    remote_flags(p, token=True)
    p.set_defaults(handler=cmd_releases_list)
    p = rsub.add_parser("download", help="download a release's synthetic table and verify its SHA-256")
    p.add_argument("id", type=positive_int("release id"))
    p.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    p.add_argument("-o", "--output", default=".", help="directory to write to (default: current)")
    remote_flags(p, token=True)
    p.set_defaults(handler=cmd_releases_download)
