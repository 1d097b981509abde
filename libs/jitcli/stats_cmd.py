"""``jit stats ...``: statistics of the JIT's cases and its evaluation, small cells suppressed, from the
victims service's StatisticsService; and a victim's special-category attributes (consent and purpose
required, need-to-know only).

    jit stats show [--workspace WS] [--measure requests] [--by instrument,addressee] [--k 5] [--csv]
    jit stats evaluation WS --out DIR          # DIR/<WS>-evaluation.csv and DIR/<WS>-evaluation.png
    jit stats categories record V-NL-0001 --consent --consent-given-at 2026-11-30 --purpose TEXT --gender female
    jit stats categories show V-NL-0001 --purpose TEXT
    jit stats categories withdraw V-NL-0001
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from jit.victims.v1 import statistics_pb2 as pb
from jit.victims.v1 import statistics_pb2_grpc
from jitcli.render import UTC, CliError, emit, emit_json, message_dict, note, parse_instant, terminal_safe
from jitcli.session import app_state
from jitlib import stats

app = typer.Typer(help="Statistics and the JIT's evaluation, small cells suppressed.", no_args_is_help=True)
categories_app = typer.Typer(
    help="A victim's special-category attributes: recorded with consent and a purpose, read by need-to-know.",
    no_args_is_help=True,
)
app.add_typer(categories_app, name="categories")

SERVICE = "victims"
STUB = statistics_pb2_grpc.StatisticsServiceStub


def table_rows(t: pb.StatisticsTable) -> list[list[str]]:
    """The header, a row per cell, then the total, every value safe to print."""
    return [[terminal_safe(v, one_line=True) for v in row] for row in stats.table_rows(stats.table_from_pb(t))]


def _rich(t: pb.StatisticsTable, title: str) -> Table:
    rows = table_rows(t)
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(rows[0]):
        table.add_column(name, justify="left" if i < len(t.groupings) else "right")
    for row in rows[1:]:
        table.add_row(*row)
    return table


def _groupings(by: str) -> list[str]:
    return [g.strip() for g in by.split(",") if g.strip()]


@app.command()
def show(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Option("--workspace", "-w", help="only this workspace (default: all yours)")] = "",
    measure: Annotated[
        str, typer.Option("--measure", "-m", help="requests, deadlines, enforcement, orders, tasks or victims")
    ] = "requests",
    by: Annotated[
        str,
        typer.Option(
            "--by",
            help="up to three groupings, comma-separated: instrument, issuing, addressee, outcome, deadline, "
            "enforcing (enforcement), offence, victim_jurisdiction, gender, age_group, disability, ethnicity, "
            "socioeconomic_status, workspace",
        ),
    ] = "",
    k: Annotated[int, typer.Option("--k", help="the smallest cell shown: 5 or more")] = 0,
    since: Annotated[
        str, typer.Option("--since", help="records issued from the start of this day (UTC) on, e.g. 2026-01-01")
    ] = "",
    until: Annotated[
        str, typer.Option("--until", help="records issued before the start of this day (UTC), e.g. 2027-01-01")
    ] = "",
    as_csv: Annotated[bool, typer.Option("--csv", help="write CSV to standard output")] = False,
) -> None:
    """A table of counts; a cell under k (or its complement) shows as suppressed."""
    request = pb.GetStatisticsRequest(measure=measure, groupings=_groupings(by), workspace_id=workspace, k=k)
    if since:
        request.period_start.FromDatetime(parse_instant(since))
    if until:
        request.period_end.FromDatetime(parse_instant(until))
    state = app_state(ctx)
    resp = state.call(SERVICE, STUB, "GetStatistics", request)
    if state.json:
        emit_json(message_dict(resp))
    elif as_csv:
        typer.echo(stats.to_csv(stats.table_from_pb(resp.table)), nl=False)
    else:
        title = f"{resp.table.measure} in {', '.join(resp.workspace_ids)} (k = {resp.table.k})"
        emit(_rich(resp.table, title))


@app.command()
def evaluation(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Argument(help="the workspace (JIT) to evaluate")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder to write the CSV and the PNG chart into")] = Path(),
    k: Annotated[int, typer.Option("--k", help="the smallest cell shown: 5 or more")] = 0,
) -> None:
    """The JIT's evaluation (its lead's prosecutors): <WS>-evaluation.csv and <WS>-evaluation.png in --out."""
    state = app_state(ctx)
    resp = state.call(SERVICE, STUB, "ExportEvaluation", pb.ExportEvaluationRequest(workspace_id=workspace, k=k))
    out.mkdir(parents=True, exist_ok=True)
    base = resp.workspace_id or workspace
    csv_path, png_path = out / f"{base}-evaluation.csv", out / f"{base}-evaluation.png"
    csv_path.write_bytes(resp.csv)
    png_path.write_bytes(resp.chart_png)
    if state.json:
        emit_json({"workspace_id": base, "csv": str(csv_path), "chart": str(png_path), "tables": len(resp.tables)})
        return
    for t in resp.tables:
        emit(_rich(t, t.name))
    note(f"wrote {csv_path} and {png_path}")


CATEGORY_OPTIONS = ("gender", "age_group", "disability", "ethnicity", "socioeconomic_status")


def _value(text: str) -> str:
    return text.strip().upper().replace("-", "_")


@categories_app.command("record")
def categories_record(
    ctx: typer.Context,
    victim: Annotated[str, typer.Argument(help="the victim's pseudonym (V-NL-0007)")],
    purpose: Annotated[str, typer.Option("--purpose", help="why they are recorded (required)")] = "",
    consent: Annotated[bool, typer.Option("--consent", help="the victim consented (required)")] = False,
    consent_given_at: Annotated[str, typer.Option("--consent-given-at", help="when (default: now)")] = "",
    gender: Annotated[str, typer.Option(help="female, male, non-binary, other")] = "",
    age_group: Annotated[str, typer.Option("--age-group", help="under-18, 18-24, 25-34, ..., 65-plus")] = "",
    disability: Annotated[str, typer.Option(help="yes, no")] = "",
    ethnicity: Annotated[str, typer.Option(help="majority, minority, migrant-background, other")] = "",
    socioeconomic_status: Annotated[str, typer.Option("--socioeconomic-status", help="low, middle, high")] = "",
) -> None:
    """Record special-category attributes: only with the victim's consent and a stated purpose."""
    request = pb.RecordSpecialCategoriesRequest(
        victim_ref=victim,
        consent_given=consent,
        purpose=purpose,
        attributes=pb.SpecialCategories(
            gender=_value(gender),
            age_group=_value(age_group),
            disability=_value(disability),
            ethnicity=_value(ethnicity),
            socioeconomic_status=_value(socioeconomic_status),
        ),
    )
    request.consent_given_at.FromDatetime(parse_instant(consent_given_at) if consent_given_at else dt.datetime.now(UTC))
    state = app_state(ctx)
    resp = state.call(SERVICE, STUB, "RecordSpecialCategories", request)
    _show_record(state.json, resp.record)


def _show_record(as_json: bool, record: pb.SpecialCategoriesRecord) -> None:
    if as_json:
        emit_json(message_dict(record))
        return
    table = Table(title=f"special categories of {terminal_safe(record.victim_ref, one_line=True)}", show_header=False)
    for name in CATEGORY_OPTIONS:
        table.add_row(name, getattr(record.attributes, name) or "not recorded")
    table.add_row("purpose", terminal_safe(record.purpose))
    table.add_row("consent given", record.consent_given_at.ToDatetime(tzinfo=UTC).isoformat())
    table.add_row("recorded by", f"{record.recorded_by.username} ({record.recorded_by.jurisdiction})")
    emit(table)


@categories_app.command("show")
def categories_show(
    ctx: typer.Context,
    victim: Annotated[str, typer.Argument(help="the victim's pseudonym")],
    purpose: Annotated[str, typer.Option("--purpose", help="why you read them (required, audited)")] = "",
) -> None:
    """A victim's attributes, to need-to-know only."""
    state = app_state(ctx)
    request = pb.GetSpecialCategoriesRequest(victim_ref=victim, purpose=purpose)
    resp = state.call(SERVICE, STUB, "GetSpecialCategories", request)
    _show_record(state.json, resp.record)


@categories_app.command("withdraw")
def categories_withdraw(
    ctx: typer.Context, victim: Annotated[str, typer.Argument(help="the victim's pseudonym")]
) -> None:
    """The victim withdrew consent: destroy the attributes (they count as not recorded)."""
    state = app_state(ctx)
    resp = state.call(SERVICE, STUB, "WithdrawConsent", pb.WithdrawConsentRequest(victim_ref=victim))
    if state.json:
        emit_json(message_dict(resp))
    elif resp.HasField("destroyed_at"):
        note(f"the special categories of {resp.victim_ref} were destroyed")
    else:
        raise CliError(f"no special categories were recorded for {resp.victim_ref}")
