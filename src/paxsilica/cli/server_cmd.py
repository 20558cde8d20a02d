"""``paxsilica serve``, ``user add|list|disable``, ``org add|list``, ``audit verify``, ``db upgrade``.

The operator's commands: they act on the service's database directly (``--db URL``, default the
SQLite file in the user's data folder), and are written to the audit log like API actions.
"""

from __future__ import annotations

import getpass
import os
import sys
from typing import Annotated

import typer

from ..errors import InputError
from .common import OutputFormat, console, emit

Db = Annotated[str | None, typer.Option("--db", help="Database URL (default: $PAXSILICA_DB_URL, else "
                                        "the SQLite file in the user's data folder).", show_default=False)]
Fmt = Annotated[OutputFormat, typer.Option("--format", "-f", help="table, csv or json.")]

user_app = typer.Typer(help="Accounts of the service (the operator's commands).", no_args_is_help=True)
org_app = typer.Typer(help="Organisations of the service (the operator's commands).", no_args_is_help=True)
audit_app = typer.Typer(help="The service's audit log.", no_args_is_help=True)
db_app = typer.Typer(help="The service's database.", no_args_is_help=True)


def _settings(db: str | None, **kw: object):  # type: ignore[no-untyped-def]
    """The service settings, with the database URL checked (a bad ``--db`` is exit 1 naming it)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from ..server.settings import Settings

    settings = Settings.from_env(db_url=db, **kw)
    try:
        make_url(settings.db_url)
    except (ArgumentError, ValueError) as exc:
        raise InputError(f"--db: {settings.db_url!r} is not a database URL ({exc}); use e.g. "
                         "sqlite:///path/service.db or postgresql+psycopg://user@host/db") from None
    return settings


def _store(db: str | None, upgrade: bool = True):  # type: ignore[no-untyped-def]
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from ..server.store import Store

    settings = _settings(db)
    try:
        store = Store(settings.db_url)
        if upgrade:
            store.upgrade()
    except ArgumentError as exc:  # an unknown dialect or driver
        raise InputError(f"--db: cannot use {settings.db_url!r}: {exc}") from None
    except DBAPIError as exc:  # the server is unreachable, refuses the login, or the file is no database
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        raise InputError(f"--db: cannot open the database: {reason}") from None
    return store


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in a container: still a readable actor
        return "cli"


def _audit(s, action: str, target: str, org_id: int | None, detail: dict) -> None:  # type: ignore[no-untyped-def]
    from ..server.store import audit

    audit.append(s, actor=_actor(), org_id=org_id, action=action, target=target, detail=detail, client="cli")


def _org_by_name(s, name: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from ..server.store import Organisation

    org = s.execute(select(Organisation).where(Organisation.name == name)).scalar_one_or_none()
    if org is None:
        raise InputError(f"no organisation '{name}' (see `paxsilica org list`)", column="--org")
    return org


def _password(stdin: bool) -> str:
    if stdin:
        pw = sys.stdin.readline().rstrip("\n")
    elif os.environ.get("PAXSILICA_PASSWORD"):
        pw = os.environ["PAXSILICA_PASSWORD"]
    else:
        if not sys.stdin.isatty():
            # getpass would echo the password (it warns and falls back to plain stdin): refuse instead
            raise InputError("no password given and no terminal to ask on: pipe it in with "
                             "--password-stdin or set $PAXSILICA_PASSWORD", column="password")
        pw = getpass.getpass("password: ")
        if getpass.getpass("again: ") != pw:
            raise InputError("the two passwords differ")
    if len(pw) < 12:
        raise InputError("a password needs at least 12 characters", column="password")
    return pw


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    org: Annotated[str, typer.Option("--org", help="Organisation name.")],
    role: Annotated[str, typer.Option("--role", help="viewer, analyst or admin.")] = "viewer",
    operator: Annotated[bool, typer.Option("--operator", help="Service operator (secretariat only).")] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from "
                                                 "standard input (else $PAXSILICA_PASSWORD or a prompt).")] = False,
    db: Db = None,
) -> None:
    """Add a user to an organisation."""
    from sqlalchemy.exc import IntegrityError

    from ..server.auth import hash_password
    from ..server.store import ROLES, User

    if role not in ROLES:
        raise InputError(f"unknown role '{role}'; roles: {', '.join(ROLES)}", column="--role")
    pw_hash = hash_password(_password(password_stdin))
    store = _store(db)
    try:
        with store.session(write=True) as s:
            o = _org_by_name(s, org)
            if operator and o.kind != "secretariat":
                raise InputError("only users of the secretariat can be operators", column="--operator")
            u = User(org_id=o.id, username=username, password_hash=pw_hash, role=role, is_operator=operator)
            s.add(u)
            s.flush()
            _audit(s, "user.create", username, o.id, {"user_id": u.id, "role": role, "operator": operator})
    except IntegrityError:
        raise InputError(f"the username '{username}' is taken", column="username") from None
    finally:
        store.dispose()
    console.print(f"added {username} ({role}{', operator' if operator else ''}) to {org}")


@user_app.command("list")
def user_list(org: Annotated[str | None, typer.Option("--org", help="Only this organisation.")] = None,
              fmt: Fmt = OutputFormat.table, db: Db = None) -> None:
    """List users."""
    import pandas as pd
    from sqlalchemy import select

    from ..server.store import Organisation, User

    store = _store(db)
    with store.session() as s:
        q = select(User, Organisation.name).join(Organisation, Organisation.id == User.org_id).order_by(User.id)
        if org:
            q = q.where(Organisation.name == org)
        rows = [{"id": u.id, "username": u.username, "org": name, "role": u.role, "operator": u.is_operator,
                 "disabled": u.disabled} for u, name in s.execute(q)]
    store.dispose()
    emit(pd.DataFrame(rows, columns=["id", "username", "org", "role", "operator", "disabled"]), fmt, title="users")


@user_app.command("disable")
def user_disable(username: Annotated[str, typer.Argument(help="Login name.")], db: Db = None) -> None:
    """Disable a user (their tokens and keys stop working at once)."""
    from sqlalchemy import select

    from ..server.store import User

    store = _store(db)
    try:
        with store.session(write=True) as s:
            u = s.execute(select(User).where(User.username == username)).scalar_one_or_none()
            if u is None:
                raise InputError(f"no user '{username}'", column="username")
            u.disabled = True
            _audit(s, "user.update", username, u.org_id, {"user_id": u.id, "disabled": [False, True]})
    finally:
        store.dispose()
    console.print(f"disabled {username}")


@org_app.command("add")
def org_add(name: Annotated[str, typer.Argument(help="Organisation name.")],
            kind: Annotated[str, typer.Option("--kind", help="ministry, company or secretariat.")] = "ministry",
            db: Db = None) -> None:
    """Create an organisation."""
    from sqlalchemy.exc import IntegrityError

    from ..server.store import ORG_KINDS, Organisation

    if kind not in ORG_KINDS:
        raise InputError(f"unknown kind '{kind}'; kinds: {', '.join(ORG_KINDS)}", column="--kind")
    store = _store(db)
    try:
        with store.session(write=True) as s:
            o = Organisation(name=name, kind=kind)
            s.add(o)
            s.flush()
            _audit(s, "org.create", name, o.id, {"org_id": o.id, "kind": kind})
    except IntegrityError:
        raise InputError(f"an organisation named '{name}' exists", column="name") from None
    finally:
        store.dispose()
    console.print(f"added organisation {name} ({kind})")


@org_app.command("list")
def org_list(fmt: Fmt = OutputFormat.table, db: Db = None) -> None:
    """List organisations."""
    import pandas as pd
    from sqlalchemy import select

    from ..server.store import Organisation

    store = _store(db)
    with store.session() as s:
        rows = [{"id": o.id, "name": o.name, "kind": o.kind, "created": o.created_at.isoformat(timespec="seconds")}
                for o in s.execute(select(Organisation).order_by(Organisation.id)).scalars()]
    store.dispose()
    emit(pd.DataFrame(rows, columns=["id", "name", "kind", "created"]), fmt, title="organisations")


@audit_app.command("verify")
def audit_verify(db: Db = None) -> None:
    """Check the audit log's hash chain: exit 1 if an entry was deleted or edited."""
    from ..server.store import audit

    store = _store(db, upgrade=False)
    with store.session() as s:
        v = audit.verify(s)
    store.dispose()
    if not v.ok:
        console.print(f"[bold red]audit log broken[/bold red] ({v.entries} entries):", highlight=False)
        for p in v.problems:
            console.print(f"  - {p}", highlight=False, markup=False)
        raise typer.Exit(1)
    console.print(f"audit log intact: {v.entries} entries, head {v.head}", highlight=False)


@db_app.command("upgrade")
def db_upgrade(db: Db = None) -> None:
    """Apply the schema migrations (``paxsilica serve`` also does at start)."""
    store = _store(db, upgrade=False)
    store.upgrade()
    rev = store.current_revision()
    store.dispose()
    console.print(f"database at revision {rev}")


def serve_cmd(
    db: Db = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64,
                                         help="Server processes (uvicorn's workers), each with its own "
                                              "caches; they share the runs through the database.")] = 1,
    run_workers: Annotated[int | None, typer.Option("--run-workers", min=1, max=64,
                                                    help="Simulations at once per server process (default "
                                                         "$PAXSILICA_WORKERS or 1).")] = None,
    proxy_headers: Annotated[bool, typer.Option("--proxy-headers/--no-proxy-headers",
                                                help="Trust X-Forwarded-For from --forwarded-allow-ips "
                                                     "(behind a reverse proxy).")] = False,
    forwarded_allow_ips: Annotated[str, typer.Option("--forwarded-allow-ips", help="Proxies trusted.")]
    = "127.0.0.1",
) -> None:
    """Run the REST service (FastAPI under uvicorn); migrations are applied first."""
    import uvicorn

    from ..server import app as server_app
    from .common import STATE

    kw = {} if run_workers is None else {"workers": run_workers}
    settings = _settings(db, **kw)
    store = _store(settings.db_url)  # the database opens and is migrated, or exit 1 naming it
    atlas = str(STATE.atlas_path) if STATE.atlas_path else None
    opts = {"host": host, "port": port, "proxy_headers": proxy_headers, "forwarded_allow_ips": forwarded_allow_ips,
            "log_level": os.environ.get("PAXSILICA_LOG_LEVEL", "info"), "timeout_graceful_shutdown": 10}
    if workers == 1:
        store.engine.dispose()
        uvicorn.run(server_app.create_app(settings, atlas_path=atlas, settle_heap=True), **opts)  # type: ignore[arg-type]
        return
    # Several processes: what must happen once happens here, before any of them serves — the
    # signing key is created (else each would generate its own), orphan files are removed (a
    # process starting later must not delete another's file written but not yet committed).
    settings = settings.with_secret()
    server_app._remove_orphans(store, settings)
    store.engine.dispose()
    os.environ.update({"PAXSILICA_DB_URL": settings.db_url, "PAXSILICA_FILES_DIR": str(settings.files_dir),
                       "PAXSILICA_WORKERS": str(settings.workers), server_app.ENV_ATLAS: atlas or "",
                       server_app.ENV_PROCESSES: str(workers)})
    uvicorn.run("paxsilica.server.app:app_from_env", factory=True, workers=workers, **opts)  # type: ignore[arg-type]


def register(app: typer.Typer) -> None:
    """Add the service's commands to the root CLI."""
    app.command("serve")(serve_cmd)
    app.add_typer(user_app, name="user")
    app.add_typer(org_app, name="org")
    app.add_typer(audit_app, name="audit")
    app.add_typer(db_app, name="db")
