"""A district data folder: many communities served by one node process.

Layout of ``DIR``::

    district.json            role, the communities served (origins), the shared database
    witness.key              witness district only: the one cosigning identity of the district
    communities/<slug>/      one ordinary single-community data folder per community
                             (node.json, log.key or witness.key, ledger.sqlite ...)

Each community stays a complete data folder, so everything that works on one
(:func:`node.context.open_context`, the standby, fsck, restore) works on each of them. On
PostgreSQL every community lives in its own *schema* of the one shared database (its
node.json ``database`` URL carries ``search_path``), so tables, triggers and advisory
locks never mix between communities and a community can be dumped or dropped alone.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ledger.c2sp.cosignature import CosignatureSigner, generate_cosigner
from ledger.errors import InputError
from ledger.files import write_atomic
from ledger.keys import KeyPair
from node.config import CONFIG_FILE, ROLES, WITNESS_KEY_FILE

__all__ = [
    "COMMUNITIES_DIR",
    "DISTRICT_FILE",
    "DistrictConfig",
    "add_community",
    "community_database_url",
    "community_dir",
    "init_district",
    "is_district",
    "list_communities",
    "load_district",
    "slug",
    "witness_vkey",
]

DISTRICT_FILE = "district.json"
COMMUNITIES_DIR = "communities"


@dataclass
class DistrictConfig:
    """What ``DIR/district.json`` holds."""

    role: str = "sequencer"
    # The origins served, in the order they were added.
    communities: list[str] = field(default_factory=list)
    # PostgreSQL URL shared by every community (a schema each); None: SQLite per community.
    database: str | None = None
    # Witness/mirror: base URL of the sequencer district; each community follows
    # ``{follow}/c/{origin}`` unless add-community was given its own URL.
    follow: str | None = None
    # Witness district: the name of its cosigning key (witness.key).
    witness_name: str | None = None
    # Seconds between the running node's looks at this file (communities added), and
    # between its retries of the communities that failed to open.
    watch_interval: float = 2.0
    retry_interval: float = 30.0


def is_district(data_dir: Path) -> bool:
    """Whether ``data_dir`` is a district folder (rather than a single community's)."""
    return (data_dir / DISTRICT_FILE).is_file()


def slug(origin: str) -> str:
    """A filesystem- and SQL-identifier-safe name for ``origin``, unique per origin.

    The readable part alone could collide (``a.org/b-c`` and ``a.org/b/c``), so a short
    hash of the exact origin follows it.
    """
    readable = re.sub(r"[^a-z0-9]+", "-", origin.lower()).strip("-")[:40] or "community"
    return f"{readable}-{hashlib.sha256(origin.encode()).hexdigest()[:8]}"


def community_dir(data_dir: Path, origin: str) -> Path:
    """The community's own data folder inside the district folder."""
    return data_dir / COMMUNITIES_DIR / slug(origin)


def community_database_url(database: str | None, origin: str) -> str | None:
    """The community's database URL: the district's PostgreSQL with its own schema."""
    if database is None:
        return None
    from sqlalchemy.engine import make_url

    url = make_url(database)
    if url.get_backend_name() != "postgresql":
        raise InputError("a district's shared database must be PostgreSQL (SQLite: leave it out)")
    schema = "civic_" + slug(origin).replace("-", "_")
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def load_district(data_dir: Path) -> DistrictConfig:
    """Read ``DIR/district.json``; InputError that says how to create one when missing."""
    path = data_dir / DISTRICT_FILE
    if not path.is_file():
        raise InputError(
            f"{data_dir} is not a district folder (no {DISTRICT_FILE}); "
            "create one with `civic node init --data DIR --role sequencer`"
        )
    try:
        cfg = DistrictConfig(**json.loads(path.read_text("utf-8")))
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path} is not a valid district config: {exc}") from exc
    if cfg.role not in ROLES:
        raise InputError(f"{path}: unknown role {cfg.role!r}; roles: {', '.join(ROLES)}")
    return cfg


def _save(data_dir: Path, cfg: DistrictConfig) -> None:
    text = json.dumps(asdict(cfg), indent=2, sort_keys=True) + "\n"
    write_atomic(data_dir / DISTRICT_FILE, text.encode("utf-8"))


def init_district(
    data_dir: Path,
    role: str,
    database: str | None = None,
    follow: str | None = None,
    witness_name: str | None = None,
) -> DistrictConfig:
    """Create an empty district folder; refuses a folder that already holds a node."""
    if role not in ROLES:
        raise InputError(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
    if (data_dir / DISTRICT_FILE).exists() or (data_dir / CONFIG_FILE).exists():
        raise InputError(f"{data_dir} already holds a node; choose an empty folder")
    if role == "witness" and not witness_name:
        raise InputError("a witness district needs --name, the name of its cosigning key")
    if role == "sequencer" and follow:
        raise InputError("a sequencer follows no one: leave out --follow")
    if database is not None:
        community_database_url(database, "check")  # refuse a non-PostgreSQL URL now
    cfg = DistrictConfig(
        role=role,
        database=database,
        follow=follow.rstrip("/") if follow else None,
        witness_name=witness_name if role == "witness" else None,
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    if role == "witness":
        signer = generate_cosigner(str(witness_name))
        write_atomic(
            data_dir / WITNESS_KEY_FILE, (signer.private_key_string() + "\n").encode(), 0o600
        )
    _save(data_dir, cfg)
    return cfg


def witness_vkey(data_dir: Path) -> str:
    """A witness district's cosigning verifier key (for the communities' genesis)."""
    return _witness_signer(data_dir).verifier().vkey()


def _witness_signer(data_dir: Path) -> CosignatureSigner:
    from node.witness import load_witness_key

    return load_witness_key(data_dir)


def add_community(
    data_dir: Path,
    origin: str | None = None,
    committee: Sequence[KeyPair] = (),
    witnesses: Sequence[dict[str, str]] = (),
    quorum: int = 0,
    policy: dict[str, Any] | None = None,
    log_vkey: str | None = None,
    follow: str | None = None,
) -> dict[str, Any]:
    """Add one community to the district; nothing is left behind if it fails. A running
    district node opens it within ``watch_interval`` seconds.

    A sequencer district creates the community (new log key, genesis from ``committee``);
    a witness or mirror district starts replicating the log of ``log_vkey`` (its origin is
    the key's name) from ``follow`` or ``{district follow}/c/{origin}``.
    """
    cfg = load_district(data_dir)
    if cfg.role == "sequencer":
        if not origin:
            raise InputError("a sequencer district needs --origin for a new community")
        if not committee:
            raise InputError("a new community needs its founders: --committee KEYFILE")
    else:
        if not log_vkey:
            raise InputError(f"a {cfg.role} district needs the community's --log-vkey")
        from ledger.c2sp.note import parse_vkey

        named = parse_vkey(log_vkey).name
        if origin and origin != named:
            raise InputError(f"--origin {origin!r} is not the log key's origin {named!r}")
        origin = named
        follow = (follow or (f"{cfg.follow}/c/{origin}" if cfg.follow else "")).rstrip("/")
        if not follow:
            raise InputError("no URL to follow: pass --follow, or init the district with one")
    if origin in cfg.communities:
        raise InputError(f"the district already serves {origin!r}")
    folder = community_dir(data_dir, origin)
    if folder.exists():
        raise InputError(f"{folder} already exists: remove it or choose another origin")
    database = community_database_url(cfg.database, origin)
    folder.parent.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"origin": origin, "slug": folder.name, "data": str(folder)}
    try:
        if cfg.role == "sequencer":
            from node.bootstrap import init_community

            out.update(
                init_community(folder, origin, committee, witnesses, quorum, policy, database)
            )
        elif cfg.role == "witness":
            from node.config import load_config, save_config
            from node.witness import init_witness

            init_witness(folder, str(cfg.witness_name), log_vkey, follow, _witness_signer(data_dir))
            if database is not None:
                ncfg = load_config(folder)
                ncfg.database = database
                save_config(folder, ncfg)
        else:
            from node.mirror import init_mirror

            init_mirror(folder, str(follow), str(log_vkey), database)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    cfg.communities.append(origin)
    _save(data_dir, cfg)
    return out


def list_communities(data_dir: Path) -> list[dict[str, Any]]:
    """The district's communities: origin, slug, folder, database kind, followed URL."""
    from node.config import load_config

    cfg = load_district(data_dir)
    out: list[dict[str, Any]] = []
    for origin in cfg.communities:
        folder = community_dir(data_dir, origin)
        row: dict[str, Any] = {"origin": origin, "slug": folder.name, "data": str(folder)}
        try:
            ncfg = load_config(folder)
            row["database"] = "postgresql" if ncfg.database else "sqlite"
            if ncfg.follow:
                row["follow"] = ncfg.follow
        except InputError as exc:
            row["error"] = exc.message
        out.append(row)
    return out
