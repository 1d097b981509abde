"""The console's one table of actions: for each action a service may list in a record's
``allowed_actions``, the words on its button, the RPC it calls and the inputs it asks for.

Which actions a user sees is never decided here: a page shows exactly the record's ``allowed_actions``
that this table knows. An action the table does not know yet is named on the page with its `jit` command.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import Message

from jit.evidence.v1 import evidence_pb2 as ev
from jit.preservation.v1 import preservation_pb2 as pv
from jit.preservation.v1 import removal_pb2 as rm
from jit.tasks.v1 import tasks_pb2 as tk
from jit.victims.v1 import victims_pb2 as vc
from jitlib import legal

#: The longest text a form field takes (the services set the real limits and name the field if over).
TEXT_MAX = 10_000


@dataclass(frozen=True)
class Input:
    name: str
    label: str
    #: text, textarea, date (a day, as the end of that day in UTC), instant (a day and time, in UTC), choice
    #: (one of an enum's values), choices (any of them, a repeated field), codes (jurisdictions typed with
    #: commas or spaces, a repeated field), pick (one of the values ``options`` takes from the record), day
    #: (a day, sent as the text YYYY-MM-DD), flag (a box to tick, a bool field), number (a whole number typed,
    #: an int32 field; the service bounds it), or hidden (a whole number or text the page takes from the record:
    #: ``value``).
    kind: str = "text"
    required: bool = False
    enum: Any = None
    prefix: str = ""
    hint: str = ""
    #: For a choice that depends on the record: the values (names without the prefix) offered for it.
    narrow: Callable[[Any], Iterable[str]] | None = None
    #: For a hidden input: its value, from the record shown.
    value: Callable[[Any], str] | None = None
    #: For a hidden input: a whole number (an int64 field).
    number: bool = False
    #: For a pick: the (value, words) the record offers.
    options: Callable[[Any], Iterable[tuple[str, str]]] | None = None

    def choices(self, record: Any = None) -> list[tuple[int, str]]:
        """The enum's values as (number, words); for ``record``, only those ``narrow`` offers for it (the
        service decides what it takes and names the field otherwise)."""
        if self.enum is None:
            return []
        offered = set(self.narrow(record)) if self.narrow is not None and record is not None else None
        return [
            (v.number, v.name.removeprefix(self.prefix).lower().replace("_", " "))
            for v in self.enum.DESCRIPTOR.values
            if v.number != 0 and (offered is None or v.name.removeprefix(self.prefix) in offered)
        ]


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    service: str
    method: str
    request: type[Message]
    inputs: tuple[Input, ...] = field(default=())
    #: Changes the record for good or ends it: the button is shown as a warning.
    grave: bool = False
    #: The request's field that names the record, and whether it carries the version the page showed.
    id_field: str = "id"
    versioned: bool = True
    #: Fields the action always sets (name, value).
    fixed: tuple[tuple[str, Any], ...] = ()


def requested_categories(req: Any) -> tuple[str, ...]:
    """The request's data categories still open (those a refusal or an execution may name)."""
    return tuple(
        ev.DataCategory.Name(o.category).removeprefix("DATA_CATEGORY_")
        for o in req.category_outcomes
        if o.state == ev.DATA_CATEGORY_STATE_OPEN
    )


def instrument_grounds(req: Any) -> tuple[str, ...]:
    """The grounds for refusal of the request's instrument (``legal.refusal_grounds``): without
    NO_DOUBLE_CRIMINALITY when the issuer indicated an Annex IV or Annex D offence punishable by at least
    three years (the service refuses that ground then)."""
    basis = ev.LegalBasis.Name(req.legal_basis).removeprefix("LEGAL_BASIS_")
    listed = ev.ListedOffence.Name(req.listed_offence).removeprefix("LISTED_OFFENCE_") if req.listed_offence else ""
    return legal.refusal_grounds(basis, listed, req.max_sentence_months)


REASON = Input("reason", "Reason", "textarea", required=True)
NOTE = Input("note", "Note (optional)", "textarea")

TASK_ACTIONS = {
    a.name: a
    for a in (
        Action("assign", "Assign", "tasks", "AssignTask", tk.AssignTaskRequest,
               (Input("assignee_jurisdiction", "Address to (another member, optional)", hint="e.g. DE"),
                Input("reason", "Reason (optional)", "textarea"))),
        Action("accept", "Accept", "tasks", "AcceptTask", tk.AcceptTaskRequest),
        Action("decline", "Decline", "tasks", "DeclineTask", tk.DeclineTaskRequest, (REASON,), grave=True),
        Action("start", "Start work", "tasks", "StartTask", tk.StartTaskRequest),
        Action("block", "Mark blocked", "tasks", "BlockTask", tk.BlockTaskRequest, (REASON,)),
        Action("unblock", "Unblock", "tasks", "UnblockTask", tk.UnblockTaskRequest),
        Action("complete", "Complete", "tasks", "CompleteTask", tk.CompleteTaskRequest,
               (Input("outcome", "Outcome", "textarea", required=True),)),
        Action("verify", "Verify", "tasks", "VerifyTask", tk.VerifyTaskRequest),
        Action("hand_back", "Hand back", "tasks", "HandBackTask", tk.HandBackTaskRequest, (REASON,), grave=True),
        Action("reopen", "Reopen", "tasks", "ReopenTask", tk.ReopenTaskRequest, (REASON,)),
        Action("renegotiate", "Change due date or priority", "tasks", "RenegotiateTask", tk.RenegotiateTaskRequest,
               (Input("due_at", "New due date (day)", "date"),
                Input("priority", "New priority", "choice", enum=tk.TaskPriority, prefix="TASK_PRIORITY_"),
                REASON)),
        Action("cancel", "Cancel task", "tasks", "CancelTask", tk.CancelTaskRequest, (REASON,), grave=True),
    )
}  # fmt: skip

REQUEST_ACTIONS = {
    a.name: a
    for a in (
        Action("issue", "Issue", "evidence", "IssueRequest", ev.IssueRequestRequest),
        Action("acknowledge", "Acknowledge receipt", "evidence", "AcknowledgeRequest", ev.AcknowledgeRequestRequest),
        Action("open_review", "Open review", "evidence", "OpenReview", ev.OpenReviewRequest),
        Action("conclude_review", "Conclude review: no ground raised", "evidence", "ConcludeReview",
               ev.ConcludeReviewRequest, (NOTE,)),
        Action("start_execution", "Start execution", "evidence", "StartExecution", ev.StartExecutionRequest, (NOTE,)),
        Action("partially_execute", "Record partial execution", "evidence", "RecordPartialExecution",
               ev.RecordPartialExecutionRequest,
               (NOTE, Input("data_categories", "Categories executed now", "choices", enum=ev.DataCategory,
                            prefix="DATA_CATEGORY_", narrow=requested_categories))),
        Action("complete", "Complete execution", "evidence", "CompleteExecution", ev.CompleteExecutionRequest, (NOTE,)),
        Action("close", "Close", "evidence", "CloseRequest", ev.CloseRequestRequest, (NOTE,)),
        Action("refuse", "Refuse (raise a ground)", "evidence", "RefuseRequest", ev.RefuseRequestRequest,
               (Input("ground", "Ground for refusal", "choice", True, ev.RefusalGround, "REFUSAL_GROUND_",
                      narrow=instrument_grounds),
                Input("detail", "Details", "textarea", required=True),
                Input("data_categories", "Only these categories (none ticked: all still open)", "choices",
                      enum=ev.DataCategory, prefix="DATA_CATEGORY_", narrow=requested_categories)), grave=True),
        Action("report_not_executed", "Report not executed", "evidence", "ReportNotExecuted",
               ev.ReportNotExecutedRequest,
               (Input("reason", "Why", "choice", True, ev.NonExecutionReason, "NON_EXECUTION_REASON_"),
                Input("detail", "Details", "textarea")), grave=True),
        Action("withdraw", "Withdraw", "evidence", "WithdrawRequest", ev.WithdrawRequestRequest, (REASON,), grave=True),
        Action("postpone", "Postpone", "evidence", "PostponeRequest", ev.PostponeRequestRequest,
               (REASON, Input("until", "Until (day)", "date"))),
        Action("resume", "Resume", "evidence", "ResumeRequest", ev.ResumeRequestRequest),
        Action("extend_decision", "Extend the decision deadline", "evidence", "ExtendDecisionDeadline",
               ev.ExtendDecisionDeadlineRequest, (REASON,)),
        Action("notify_delay", "Notify a delay", "evidence", "NotifyDelay", ev.NotifyDelayRequest,
               (REASON, Input("expected_at", "Expected by (day; the legal deadline does not move)", "date",
                              required=True))),
        Action("update_user_notice", "Update the user notice", "evidence", "UpdateUserNotice",
               ev.UpdateUserNoticeRequest,
               (Input("status", "Notice to the user", "choice", True, ev.UserNoticeStatus, "USER_NOTICE_STATUS_"),
                Input("suppressed_until", "Suppressed until (day)", "date"))),
        Action("resubmit", "Clarify and resubmit", "evidence", "ResubmitRequest", ev.ResubmitRequestRequest,
               (Input("clarification", "Clarification (answer to the refusal)", "textarea", required=True),
                Input("data_categories", "Amended data categories (none ticked: unchanged)", "choices",
                      enum=ev.DataCategory, prefix="DATA_CATEGORY_"),
                Input("description", "Amended description (empty: unchanged)", "textarea"))),
        # Reg. (EU) 2023/1543 Art. 16: the issuer's prosecutor transfers an order the provider did not comply
        # with; the enforcing state's prosecutor decides on its recognition (the service offers these to them).
        Action("transfer_for_enforcement", "Transfer for enforcement", "evidence", "TransferForEnforcement",
               ev.TransferForEnforcementRequest,
               (Input("enforcing_jurisdiction", "Enforcing state (empty: the provider's establishment)",
                      hint="e.g. IE"),
                Input("note", "Why (the provider's failure)", "textarea")), grave=True),
        Action("recognise_enforcement", "Recognise: order the provider to comply", "evidence",
               "RecogniseEnforcement", ev.RecogniseEnforcementRequest,
               (Input("compliance_days", "Days to comply or oppose (Art. 16(3); 1 to 90)", "number", required=True),
                NOTE)),
        Action("refuse_enforcement", "Refuse recognition (Art. 16(4))", "evidence", "RefuseEnforcement",
               ev.RefuseEnforcementRequest,
               (Input("ground", "Ground", "choice", True, ev.EnforcementRefusalGround, "ENFORCEMENT_REFUSAL_GROUND_"),
                Input("detail", "Details", "textarea", required=True)), grave=True),
    )
}  # fmt: skip

ORDER_ACTIONS = {
    a.name: a
    for a in (
        Action("issue", "Record as sent", "preservation", "IssueOrder", pv.IssueOrderRequest),
        Action("confirm", "Record the provider's confirmation", "preservation", "ConfirmOrder", pv.ConfirmOrderRequest,
               (Input("provider_reference", "Provider's reference"),
                Input("received_at", "Received by the provider (UTC, if the provider says)", "instant"))),
        Action("extend", "Extend preservation", "preservation", "ExtendOrder", pv.ExtendOrderRequest),
        Action("request_production", "Production requested", "preservation", "MarkProductionRequested",
               pv.MarkProductionRequestedRequest,
               (Input("follow_up_request_id", "Evidence request (id)", required=True),)),
        Action("mark_produced", "Mark produced", "preservation", "MarkProduced", pv.MarkProducedRequest),
        Action("lift", "Lift the order", "preservation", "LiftOrder", pv.LiftOrderRequest, (REASON,), grave=True),
        Action("record_not_executed", "Record not executed", "preservation", "RecordNotExecuted",
               pv.RecordNotExecutedRequest,
               (Input("reason", "Why", "choice", True, pv.NotExecutedReason, "NOT_EXECUTED_REASON_"),
                Input("details", "Details", "textarea")), grave=True),
        Action("update_user_notice", "Update the user notice", "preservation", "UpdateUserNotice",
               pv.UpdateUserNoticeRequest,
               (Input("status", "Notice to the account holder", "choice", True, pv.UserNoticeStatus,
                      "USER_NOTICE_STATUS_"),
                Input("suppressed_until", "Suppressed until (day; with suppressed)", "date"))),
        # An EPOC-PR the provider did not comply with (Reg. (EU) 2023/1543 Art. 16), as an EPOC's above: the
        # issuer's prosecutor transfers it, the enforcing state's prosecutor decides (the service offers these).
        Action("transfer_for_enforcement", "Transfer for enforcement", "preservation", "TransferForEnforcement",
               pv.TransferForEnforcementRequest,
               (Input("enforcing_jurisdiction", "Enforcing state (empty: the provider's establishment)",
                      hint="e.g. IE"),
                Input("note", "Why (the provider's failure)", "textarea")), grave=True),
        Action("recognise_enforcement", "Recognise: require the provider to preserve", "preservation",
               "RecogniseEnforcement", pv.RecogniseEnforcementRequest, (NOTE,)),
        Action("refuse_enforcement", "Refuse recognition (Art. 16(4))", "preservation", "RefuseEnforcement",
               pv.RefuseEnforcementRequest,
               (Input("ground", "Ground", "choice", True, pv.EnforcementRefusalGround, "ENFORCEMENT_REFUSAL_GROUND_"),
                Input("detail", "Details", "textarea")), grave=True),
    )
}  # fmt: skip


#: A new request id each time the page is shown, so that a form sent twice (a double click, a retry after a
#: lost answer) records one act: an export request, an entry in the chain of custody, a consent.
ONCE = Input("request_id", "Request", "hidden", required=True, value=lambda _it: str(uuid.uuid4()))


def _pending(item: Any) -> Any:
    return item.pending_export.request


#: What a user may do with an evidence item besides downloading it (which has its own form, with its
#: purpose): the sensitive item's marking and its export with four eyes. The item's ``allowed_actions``
#: says which of these a user sees.
ITEM_ACTIONS = {
    a.name: a
    for a in (
        Action("mark_sensitive", "Mark sensitive", "evidence", "MarkItemSensitive", ev.MarkItemSensitiveRequest,
               (REASON,), id_field="item_id", versioned=False),
        Action("unmark_sensitive", "Lift the sensitive marking", "evidence", "UnmarkItemSensitive",
               ev.UnmarkItemSensitiveRequest, (REASON,), grave=True, id_field="item_id", versioned=False),
        Action("request_export", "Ask to export (a second prosecutor approves)", "evidence", "RequestExport",
               ev.RequestExportRequest,
               (Input("purpose", "Purpose of the export", "textarea", required=True),
                Input("destination", "Destination (who receives it)", required=True), ONCE),
               id_field="item_id", versioned=False),
        Action("approve_export", "Approve this export", "evidence", "ApproveExport", ev.ApproveExportRequest,
               (Input("export_request_seq", "Export request", "hidden", required=True, number=True,
                      value=lambda it: str(_pending(it).seq)),),
               id_field="item_id", versioned=False),
        Action("export", "Record the approved export", "evidence", "RecordCustodyEvent",
               ev.RecordCustodyEventRequest,
               (Input("purpose", "Purpose (recorded in the chain of custody)", "textarea", required=True),
                Input("recipient", "Recipient", "hidden", required=True, value=lambda it: _pending(it).recipient),
                ONCE),
               id_field="item_id", versioned=False, fixed=(("action", ev.CUSTODY_ACTION_EXPORTED),)),
        # The originating state's consent to another use (JIT_OTHER_USE_NEEDS_CONSENT): a new request_id each
        # time the page is shown, so a form sent twice records one consent.
        Action("record_use_consent", "Record our consent to another use", "evidence", "RecordUseConsent",
               ev.RecordUseConsentRequest,
               (Input("purpose", "The other use consented to (another offence, other proceedings)", required=True),
                Input("reference", "Our reference for this decision (optional)"),
                ONCE),
               id_field="item_id", versioned=False),
    )
}  # fmt: skip


def removed_items(removal: Any) -> list[tuple[str, str]]:
    """The removal request's items a re-upload may be of: those with a SHA-256 (the service matches it)."""
    return [
        (i.sha256, f"{(i.url or i.platform_item_id or i.account)[:80]} (SHA-256 {i.sha256[:12]}…)")
        for i in removal.items
        if i.sha256
    ]


ANSWERED = Input("answered_at", "When the platform answered (UTC; empty: now)", "instant")
DETAILS = Input("details", "Details (optional)", "textarea")

#: The platform's answers to a removal request, as the issuing side records them (the platform is no user).
REMOVAL_ACTIONS = {
    a.name: a
    for a in (
        Action("ack", "Record the platform's acknowledgement", "removal", "AcknowledgeRemoval",
               rm.AcknowledgeRemovalRequest, (ANSWERED,)),
        Action("removed", "Record removed", "removal", "RecordRemoved", rm.RecordRemovedRequest, (ANSWERED,)),
        Action("geoblocked", "Record blocked in some jurisdictions", "removal", "RecordGeoBlocked",
               rm.RecordGeoBlockedRequest,
               (Input("blocked_in", "Blocked in (jurisdictions, separated by commas)", "codes", required=True,
                      hint="e.g. NL, DE"), ANSWERED)),
        Action("refused", "Record refused", "removal", "RecordRefused", rm.RecordRefusedRequest,
               (Input("reason", "The platform's reason", "choice", True, rm.RefusalReason, "REFUSAL_REASON_"),
                DETAILS, ANSWERED), grave=True),
        Action("appealed", "Record the uploader's appeal", "removal", "RecordAppealed", rm.RecordAppealedRequest,
               (DETAILS, ANSWERED)),
        Action("restored", "Record restored by the platform", "removal", "RecordRestored", rm.RecordRestoredRequest,
               (DETAILS, ANSWERED), grave=True),
        Action("reupload", "Record a re-upload (reopens with a new clock)", "removal", "RecordReupload",
               rm.RecordReuploadRequest,
               (Input("sha256", "The item that showed up again", "pick", required=True, options=removed_items),
                Input("url", "Where it showed up", required=True, hint="https://"),
                Input("seen_at", "When it was seen (UTC; empty: now)", "instant"))),
    )
}  # fmt: skip


def _form_id(_record: Any) -> str:
    """A new request id for each form shown: the service answers a form posted twice with what the first
    post recorded."""
    return str(uuid.uuid4())


#: The channels a user tells a victim by (the system's own is never chosen).
TOLD_BY = ("IN_PERSON", "LETTER", "EMAIL", "PHONE", "REPRESENTATIVE")
FORM_ID = Input("request_id", "Form", "hidden", required=True, value=_form_id)

#: What the prosecutors and police liaisons of the lead's and the victim's jurisdictions record of a victim
#: (Directive 2012/29/EU: the information given, Art. 4-6; the referral to support, Art. 8 with consent).
VICTIM_ACTIONS = {
    a.name: a
    for a in (
        Action("notice", "Record what the victim was told", "victims", "RecordVictimNotice",
               vc.RecordVictimNoticeRequest,
               (FORM_ID,
                Input("step", "What the victim was told", "choice", True, vc.NoticeStep, "NOTICE_STEP_"),
                Input("channel", "How", "choice", True, vc.NoticeChannel, "NOTICE_CHANNEL_",
                      narrow=lambda _victim: TOLD_BY),
                Input("language", "In which language", required=True, hint="e.g. nl"),
                Input("told_at", "When (UTC; empty: now)", "instant"),
                Input("note", "Note (optional)", "textarea")),
               id_field="victim_id"),
        Action("refer", "Record a referral to a support service", "victims", "RecordReferral",
               vc.RecordReferralRequest,
               (FORM_ID,
                Input("service_name", "Support service", required=True),
                Input("referred_on", "Referred on (empty: today)", "day"),
                Input("consent", "The victim consented to the referral", "flag", required=True)),
               id_field="victim_id"),
    )
}  # fmt: skip

TABLES = {
    "task": TASK_ACTIONS, "request": REQUEST_ACTIONS, "order": ORDER_ACTIONS, "item": ITEM_ACTIONS,
    "removal": REMOVAL_ACTIONS, "victim": VICTIM_ACTIONS,
}  # fmt: skip


def pseudonyms(text: str) -> list[str]:
    """The victims' pseudonyms typed in a create form (``v-nl-0007, V-NL-0012``), separated by commas or
    spaces, upper-cased; the service refuses, by position, what is not a pseudonym."""
    return text[:TEXT_MAX].upper().replace(",", " ").split()


def jurisdictions(text: str) -> list[str]:
    """The jurisdictions typed in a create form's "shared with" (``ie, de``), separated by commas or spaces,
    upper-cased; the service refuses, by position, what is not one."""
    return text[:TEXT_MAX].upper().replace(",", " ").split()


class FormError(ValueError):
    """A form value the console cannot turn into a request (the field is named)."""


#: The largest whole number a form gives (int64, the widest field an action takes).
_WHOLE_MAX = 2**63 - 1


#: The largest value of an int32 field (a ``number`` input's).
_INT32_MAX = 2**31 - 1


def _whole(raw: str) -> bool:
    """Whether ``raw`` is a whole number an int64 field takes, in ASCII digits (``str.isdigit`` alone also
    accepts digits ``int`` does not read, such as superscripts)."""
    return raw.isascii() and raw.isdigit() and int(raw) <= _WHOLE_MAX


def set_instant(field: Any, raw: str, label: str) -> None:
    """Set a Timestamp ``field`` to the day and time typed (``YYYY-MM-DDTHH:MM``, UTC unless it names its
    offset); FormError naming ``label`` otherwise."""
    try:
        at = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise FormError(f"{label}: a day and time, as YYYY-MM-DDTHH:MM (UTC)") from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    try:
        field.FromDatetime(at.astimezone(dt.UTC))
    except (OverflowError, ValueError):  # past the year 9999 in UTC
        raise FormError(f"{label}: a day and time before the year 9999") from None


def build_request(action: Action, record_id: str, version: str, form: dict[str, str]) -> Message:
    """The RPC request for ``action`` on ``record_id`` from the submitted form (values checked by the
    service, which names any field it refuses)."""
    if version and not _whole(version):
        raise FormError("version: must be a number")
    expected = int(version or 0)
    fields: dict[str, Any] = {action.id_field: record_id, **dict(action.fixed)}
    if action.versioned:
        fields["expected_version"] = expected
    request = action.request(**fields)
    for spec in action.inputs:
        raw = (form.get(spec.name) or "").strip()
        if len(raw) > TEXT_MAX:
            raise FormError(f"{spec.label}: at most {TEXT_MAX} characters")
        if not raw:
            if spec.required:
                raise FormError(f"{spec.label}: is required")
            continue
        if (spec.kind == "hidden" and spec.number) or spec.kind == "number":
            # A typed number goes to an int32 field: one past its range is refused here, not by the message.
            if not _whole(raw) or (spec.kind == "number" and int(raw) > _INT32_MAX):
                raise FormError(f"{spec.label}: a whole number")
            setattr(request, spec.name, int(raw))
        elif spec.kind == "choice":
            numbers = {n for n, _ in spec.choices()}
            if not _whole(raw) or int(raw) not in numbers:
                raise FormError(f"{spec.label}: choose one of the listed values")
            setattr(request, spec.name, int(raw))
        elif spec.kind == "choices":
            numbers = {n for n, _ in spec.choices()}
            picked = [p.strip() for p in raw.split(",")]
            if not all(_whole(p) and int(p) in numbers for p in picked):
                raise FormError(f"{spec.label}: choose among the listed values")
            getattr(request, spec.name).extend(int(p) for p in picked)
        elif spec.kind == "codes":
            getattr(request, spec.name).extend(jurisdictions(raw))
        elif spec.kind == "flag":
            setattr(request, spec.name, True)
        elif spec.kind == "day":
            try:
                setattr(request, spec.name, dt.date.fromisoformat(raw).isoformat())
            except ValueError:
                raise FormError(f"{spec.label}: a day, as YYYY-MM-DD") from None
        elif spec.kind == "date":
            try:
                day = dt.date.fromisoformat(raw)
            except ValueError:
                raise FormError(f"{spec.label}: a day, as YYYY-MM-DD") from None
            end = dt.datetime.combine(day, dt.time(23, 59), tzinfo=dt.UTC)
            getattr(request, spec.name).FromDatetime(end)
        elif spec.kind == "instant":
            set_instant(getattr(request, spec.name), raw, spec.label)
        else:
            setattr(request, spec.name, raw)
    return request
