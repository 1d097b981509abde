"""Evidence requests whose issuer, or whose addressee, was taken out of the JIT (pure): which parties a reader
is shown as taken out (``domain.taken_out``, derived when read from the workspace directory's former members),
and how `jit evidence request list`/`show` and the console's request pages say so (jitlib.legal
REQUEST_ISSUER_TAKEN_OUT, REQUEST_ADDRESSEE_TAKEN_OUT)."""

from __future__ import annotations

from rich.console import Console

from jit.evidence.v1 import evidence_pb2 as pb
from jitcli.evidence_cmd import request_detail, requests_table
from jitlib.policy import Members
from services.evidence import domain
from tests.unit.test_evidence_rules import make

#: The demo workspace after DE was taken out.
DE_OUT = Members({"NL", "IE"}, former={"DE"})


def render(renderable: object) -> str:
    console = Console(width=300, record=True)
    console.print(renderable)
    return console.export_text()


def test_request_addressee_taken_out_only_for_a_direct_exchange_inside_the_jit() -> None:
    """REQUEST_ADDRESSEE_TAKEN_OUT: NL's JIT_DIRECT request to DE is flagged once DE was taken out (it no longer
    reaches DE's node); NL's EIO to DE is not (JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES: DE stays its addressee),
    nor is an EPOC whose notified enforcing state is DE; nothing is flagged while DE is a member, or for a
    workspace the directory does not know (plain members)."""
    direct = make(legal_basis="JIT_DIRECT").access()
    assert domain.taken_out(direct, DE_OUT) == domain.TakenOut(issuer=False, addressee=True)
    assert domain.taken_out(make().access(), DE_OUT) == domain.NOT_TAKEN_OUT
    epoc = make(
        legal_basis="EPOC",
        epoc_procedure="WITH_NOTIFICATION",
        addressee_kind="SERVICE_PROVIDER",
        provider_name="SocialNet",
        data_categories=("CONTENT",),
    ).access()
    assert epoc.addressee_jurisdiction == "DE" and domain.taken_out(epoc, DE_OUT) == domain.NOT_TAKEN_OUT
    assert domain.taken_out(direct, Members({"NL", "IE", "DE"})) == domain.NOT_TAKEN_OUT
    assert domain.taken_out(direct, frozenset({"NL", "IE"})) == domain.NOT_TAKEN_OUT


def test_request_issuer_taken_out_whatever_the_instrument() -> None:
    """REQUEST_ISSUER_TAKEN_OUT: a request DE issued (to NL: an EIO or a direct exchange) is flagged once DE was
    taken out, its addressee not; NL's own is not."""
    for basis in ("EIO", "JIT_DIRECT"):
        issued = domain.replace(make(legal_basis=basis, addressee_jurisdiction="NL"), origin_jurisdiction="DE")
        assert domain.taken_out(issued.access(), DE_OUT) == domain.TakenOut(issuer=True, addressee=False), basis
    assert not domain.taken_out(make(addressee_jurisdiction="IE").access(), DE_OUT).issuer


def _request(**fields: object) -> pb.EvidenceRequest:
    base: dict[str, object] = dict(
        id="r-1",
        workspace_id="jit-demo",
        title="Chat logs",
        issuing_authority="Prosecutor",
        origin_jurisdiction="NL",
        addressee_jurisdiction="DE",
        legal_basis=pb.LEGAL_BASIS_JIT_DIRECT,
        state=pb.EVIDENCE_REQUEST_STATE_ISSUED,
    )
    return pb.EvidenceRequest(**{**base, **fields})  # type: ignore[arg-type]


def test_the_cli_marks_a_request_whose_issuer_or_addressee_was_taken_out() -> None:
    """REQUEST_ADDRESSEE_TAKEN_OUT and REQUEST_ISSUER_TAKEN_OUT in `jit evidence request list`/`show`: the
    party taken out is marked ``(out)``; the direct exchange's detail tells its issuer to withdraw it when the
    service offers that; a request with no party taken out says nothing of it."""
    to_out = _request(addressee_taken_out=True, allowed_actions=["withdraw"])
    from_out = _request(id="r-2", origin_jurisdiction="DE", addressee_jurisdiction="NL", issuer_taken_out=True)
    member = _request(id="r-3", addressee_jurisdiction="IE")
    table = render(requests_table([to_out, from_out, member])).splitlines()
    rows = [next(line for line in table if f" {r.id} " in line) for r in (to_out, from_out, member)]
    assert "NL " in rows[0] and "DE (out)" in rows[0]
    assert "DE (out)" in rows[1] and "NL (out)" not in rows[1]
    assert "(out)" not in rows[2]
    shown = render(request_detail(to_out))
    assert "DE (out: taken out of the JIT; the request no longer reaches it; withdraw it" in shown
    assert "withdraw it" not in render(request_detail(_request(addressee_taken_out=True)))
    assert "DE, Prosecutor (out: taken out of the JIT; nobody acts on it as issuer" in render(request_detail(from_out))
    assert "(out" not in render(request_detail(member))


def test_the_console_marks_a_request_whose_issuer_or_addressee_was_taken_out() -> None:
    """REQUEST_ADDRESSEE_TAKEN_OUT and REQUEST_ISSUER_TAKEN_OUT in the console: the request's page and the
    workspace's requests list mark the party taken out, the page points its issuer to the withdrawal when
    offered, and a request with no party taken out shows none of it."""
    from tests.unit.test_console_pages import _task_page_context

    console, common = _task_page_context()

    def pages(r: pb.EvidenceRequest) -> tuple[str, str]:
        page = console.env.get_template("request.html").render(**common, req=r, record=r, kind="request")
        listed = console.env.get_template("requests.html").render(**common, ws="jit-demo", requests=[r])
        return page, listed

    page, listed = pages(_request(addressee_taken_out=True, allowed_actions=["withdraw"]))
    assert "this direct exchange no longer reaches it, nobody will answer it; withdraw it below" in page
    assert "addressee DE taken out" in listed and "issuer NL taken out" not in listed
    page, listed = pages(_request(origin_jurisdiction="DE", addressee_jurisdiction="NL", issuer_taken_out=True))
    assert "nobody acts on this request as issuer any more" in page and "issuer DE taken out" in listed
    assert "no longer reaches it" not in page
    page, listed = pages(_request())
    assert "Taken out of the JIT" not in page and "taken out" not in listed
