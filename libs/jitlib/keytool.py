"""The operator's key command, on a node's databases (the same settings as the services: ``JIT_STATE_DIR``,
``JIT_<SERVICE>_DATABASE_URL``, ``JIT_KEK_FILE``)::

    python -m jitlib.keytool status                      # which KEK wraps how many data keys, per service
    python -m jitlib.keytool shred --workspace WS --yes  # crypto-shred a retired workspace's content
    python -m jitlib.keytool certificates [--workspace WS]  # the deletion certificates, as JSON lines

``status`` says when a rotated-out KEK may be removed from the KEK file: when no service has a data key
under it any more. ``shred`` destroys the workspace's content key in the tasks, evidence, preservation and
victims databases (the running services stop using it within a few seconds:
``jitlib.sealing.RECHECK_SECONDS``); its titles, descriptions, victims' identities and other text then read
as "[content destroyed]". Messaging shreds a closed workspace's messages by its own retention clock
(``JIT_MESSAGING_RETENTION_DAYS``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic_settings import SettingsConfigDict
from sqlalchemy import MetaData, Table, and_, create_engine, select, update
from sqlalchemy.engine import Engine

from jitlib import crypto, sealing
from jitlib.config import CommonSettings, ServiceSettings
from jitlib.db import sync_url

#: The services of a node, in the order `make run` starts them.
SERVICES = ("tasks", "evidence", "preservation", "messaging", "victims")
#: Those whose case content is sealed under ``jitlib.sealing`` workspace keys (shredded by this command).
SHREDDABLE = ("tasks", "evidence", "preservation", "victims")


def _settings(name: str) -> ServiceSettings:
    class Settings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix=f"JIT_{name.upper()}_", extra="ignore")

    return Settings()


def _engine(common: CommonSettings, name: str) -> Engine | None:
    settings = _settings(name)
    if not settings.database_url and not (common.state_dir / f"{name}.db").exists():
        return None
    return create_engine(sync_url(settings.resolved_database_url(common, name)))


def _key_tables(engine: Engine) -> list[tuple[Table, Any]]:
    names = ("workspace_keys", "channel_keys")
    meta = MetaData()
    meta.reflect(engine, only=lambda name, _m: name in names)  # also brings the tables they refer to
    out: list[tuple[Table, Any]] = []
    for table in (meta.tables[n] for n in names if n in meta.tables):
        where = table.c.wrapping == "kek" if "wrapping" in table.c else None
        out.append((table, where))
    return out


def status(common: CommonSettings, out: list[str]) -> int:
    if not (common.kek.get_secret_value() or common.kek_file or (common.state_dir / "kek.b64").exists()):
        out.append("error: no key-encryption key: set JIT_KEK_FILE (or JIT_STATE_DIR to the node's state folder)")
        return 1
    current = _settings("tasks").kek_ring(common, "tasks")
    out.append(f"current key-encryption key: {current.current.id}")
    old_left = 0
    for name in SERVICES:
        engine = _engine(common, name)
        if engine is None:
            out.append(f"{name}: no database")
            continue
        try:
            usage: dict[str, int] = {}
            with engine.connect() as conn:
                for table, where in _key_tables(engine):
                    cond = [table.c.wrapped.is_not(None), *([where] if where is not None else [])]
                    for (kek_id,) in conn.execute(select(table.c.kek_id).where(and_(*cond))):
                        usage[kek_id] = usage.get(kek_id, 0) + 1
        finally:
            engine.dispose()
        words = ", ".join(
            f"{n} under {k}{' (current)' if k == current.current.id else ''}" for k, n in sorted(usage.items())
        )
        out.append(f"{name}: {words or 'no data keys'}")
        old_left += sum(n for k, n in usage.items() if k != current.current.id)
    if old_left:
        out.append(f"{old_left} data keys are still under an older KEK: keep it in the KEK file for now")
    else:
        out.append("every data key is under the current KEK: older KEKs may be removed from the KEK file")
    return 0


def shred(common: CommonSettings, workspace_id: str, out: list[str], by: str = "operator") -> int:
    """Destroy the workspace's content key in each shreddable service, and write a deletion certificate
    there (rule DELETION_CERTIFICATE, ``by`` the operator) naming the audit head, chained into its audit
    log; a workspace already certified keeps its certificate."""
    from sqlalchemy import func
    from sqlalchemy.orm import Session

    from jitlib import audit, db, retention, retention_sweep

    now = datetime.now(UTC)
    tables = db.runtime_tables(MetaData())
    for name in SHREDDABLE:
        engine = _engine(common, name)
        if engine is None:
            out.append(f"{name}: no database")
            continue
        try:
            meta = MetaData()
            meta.reflect(engine)
            t = meta.tables["workspace_keys"]
            with Session(engine) as session, session.begin():
                wrapped = session.execute(select(t.c.wrapped).where(t.c.workspace_id == workspace_id)).scalar()
                counts = {
                    table.name: int(
                        session.execute(
                            select(func.count()).select_from(table).where(table.c.workspace_id == workspace_id)
                        ).scalar()
                        or 0
                    )
                    for table in meta.sorted_tables
                    if "sealed" in table.c and "workspace_id" in table.c
                }
                if "custody_log" in meta.tables and "evidence_items" in meta.tables:
                    # Evidence: the custody entries' purposes and recipients are not sealed (the custody
                    # chain hashes them): erased with the key, as the retention sweep does.
                    cl, items = meta.tables["custody_log"], meta.tables["evidence_items"]
                    of_ws = select(items.c.id).where(items.c.workspace_id == workspace_id)
                    counts["custody_texts_erased"] = session.execute(
                        update(cl).where(cl.c.item_id.in_(of_ws)).values(purpose="", recipient="")
                    ).rowcount  # type: ignore[attr-defined]
                done = session.execute(
                    update(t).where(t.c.workspace_id == workspace_id).values(wrapped=None, destroyed_at=now)
                ).rowcount  # type: ignore[attr-defined]
                if done == 0:  # no content yet: a tombstone, so none is ever sealed under a new key
                    session.execute(
                        t.insert().values(
                            workspace_id=workspace_id, wrapped=None, kek_id="", created_at=now, destroyed_at=now
                        )
                    )
                if "workspace_id" in meta.tables["outbox"].c:  # its outbox rows and dead letters, as the sweep does
                    sealing.destroy_payloads(session, tables, workspace_id, counts)
                cid = retention_sweep.certificate_id(name, workspace_id)
                certified = "deletion_certificates" in meta.tables and retention_sweep.has_certificate(
                    session, tables, cid
                )
                if "deletion_certificates" in meta.tables and not certified:
                    seq, head_hash = audit.chain_head(session, tables)
                    cert = retention.Certificate(
                        id=cid,
                        service=name,
                        workspace_id=workspace_id,
                        counts=counts,
                        key_ids=(retention_sweep.key_id(wrapped),) if wrapped else (),
                        destroyed_at=now,
                        by=by,
                        why="retired by the operator's command (jitlib.keytool shred)",
                        audit_head=retention.Head(name, seq, head_hash),
                    )
                    retention_sweep.write_certificate(session, tables, cert)
            sealing.wipe_freed(engine)
        finally:
            engine.dispose()
        out.append(f"{name}: the content of workspace {workspace_id} is destroyed")
    return 0


def certificates(common: CommonSettings, workspace_id: str = "") -> list[dict[str, Any]]:
    """Every deletion certificate of the node's services (``jitlib.retention_sweep``), oldest first, each
    with ``digest_ok`` (its stored digest matches its body) and ``audit_seq`` (the seq of its entry in the
    service's audit chain, 0 when that entry is no longer there: pruned after 3 years, or removed)."""
    import json

    from jitlib.retention import Certificate

    out: list[dict[str, Any]] = []
    for name in SERVICES:
        engine = _engine(common, name)
        if engine is None:
            continue
        try:
            meta = MetaData()
            meta.reflect(engine, only=lambda n, _m: n in ("deletion_certificates", "audit_log"))
            if "deletion_certificates" not in meta.tables:
                continue
            t, log = meta.tables["deletion_certificates"], meta.tables["audit_log"]
            query = select(t).order_by(t.c.issued_at, t.c.id)
            if workspace_id:
                query = query.where(t.c.workspace_id == workspace_id)
            with engine.connect() as conn:
                for row in conn.execute(query).mappings():
                    cert = Certificate.from_dict(json.loads(row["body"]))
                    seq = conn.execute(
                        select(log.c.seq).where(
                            log.c.record_type == "deletion_certificate", log.c.record_id == row["digest"]
                        )
                    ).scalar()
                    data = cert.as_dict()
                    data.update(digest=row["digest"], digest_ok=cert.digest() == row["digest"], audit_seq=seq or 0)
                    out.append(data)
        finally:
            engine.dispose()
    return sorted(out, key=lambda c: (str(c["destroyed_at"]), str(c["id"])))


def _workspace_id(value: str) -> str:
    if not value or len(value) > 64 or not value.isprintable():
        raise argparse.ArgumentTypeError("a workspace id is 1 to 64 printable characters")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jitlib.keytool", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("status", help="which key-encryption key wraps how many data keys, per service")
    c = sub.add_parser("certificates", help="the deletion certificates of every service, as JSON lines")
    c.add_argument("--workspace", default="", metavar="WS")
    p = sub.add_parser("shred", help="crypto-shred a retired workspace's content (cannot be undone)")
    p.add_argument("--workspace", required=True, metavar="WS", type=_workspace_id)
    p.add_argument("--yes", action="store_true", help="confirm: the content is destroyed for good")
    p.add_argument("--by", default="", metavar="NAME", help="who shreds (the certificate names them; default $USER)")
    args = parser.parse_args(argv)
    common = CommonSettings()
    out: list[str] = []
    try:
        if args.command == "status":
            code = status(common, out)
        elif args.command == "certificates":
            import json

            out += [json.dumps(c, sort_keys=True, ensure_ascii=False) for c in certificates(common, args.workspace)]
            code = 0
        elif not args.yes:
            out.append("shred destroys the workspace's content for good: add --yes to confirm")
            code = 2
        else:
            import getpass

            code = shred(common, args.workspace, out, by=args.by or f"operator {getpass.getuser()}")
    except crypto.KeyError_ as exc:
        out.append(f"error: {exc}")
        code = 1
    print("\n".join(out))
    return code


if __name__ == "__main__":
    sys.exit(main())
