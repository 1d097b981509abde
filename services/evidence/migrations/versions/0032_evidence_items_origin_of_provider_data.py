"""evidence_items: the origin of an item received from a service provider is the issuing state; answers emptied

Revision ID: 0032
Revises: 0031

An item received against a request to a service provider (EPOC, SAP Art. 7, voluntary disclosure:
``addressee_kind`` SERVICE_PROVIDER) arose in the issuing state, to whose authority the provider answers
directly (jitlib.legal ITEM_ORIGIN_OF_PROVIDER_DATA, GUESS); it was stored with the provider's establishment
state, the request's addressee, which then alone could consent to its other use (and which may not even see
an EPOC without notification).

Set right here, and only where that is safe: an item of such a request whose origin is still the request's
addressee (what the service set; since the security review's finding 10 an uploader could state nothing else)
and that carries no consent to other use. An item with a consent keeps its origin: the consent was given by
the state then recorded as its origin, and moving the origin would leave a consent by a state that is not it,
or silently void one that someone relied on. Nothing else of the item changes (the custody chain does not
hash the origin). A node sets right its replicas of other nodes' items by the same rule, from the request's
replica it holds, so every copy agrees; one parked for its request (``pending_item_replicas``) keeps the
origin its holder sent.

The proto file gained RecordUseConsent (the form of a stored answer is a digest of the file), so every stored
answer (``evidence_requests.answer``, revision 0026) is emptied, and the service's background job writes each
again once it serves.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PROVIDER_ITEMS = """
    (evidence_items.consents = '[]' OR evidence_items.consents = '')
    AND EXISTS (
        SELECT 1 FROM evidence_requests r
        WHERE r.id = evidence_items.evidence_request_id
          AND r.addressee_kind = 'SERVICE_PROVIDER'
          AND r.origin_jurisdiction <> ''
          AND evidence_items.origin_jurisdiction = r.{was}
    )
"""


def _set_origin(to: str, was: str) -> None:
    op.execute(
        f"UPDATE evidence_items SET origin_jurisdiction = (SELECT r.{to} FROM evidence_requests r "
        f"WHERE r.id = evidence_items.evidence_request_id) WHERE {_PROVIDER_ITEMS.format(was=was)}"
    )


def upgrade() -> None:
    _set_origin("origin_jurisdiction", "addressee_jurisdiction")
    op.execute("UPDATE evidence_requests SET answer = NULL WHERE answer IS NOT NULL")


def downgrade() -> None:
    # The former rule: the addressee. Items with a consent are left as they are, by the same reasoning.
    _set_origin("addressee_jurisdiction", "origin_jurisdiction")
    op.execute("UPDATE evidence_requests SET answer = NULL WHERE answer IS NOT NULL")
