"""The legal rules the services enforce: one table, a source per row (DOMAIN.md, "Legal instruments,
deadlines and durations").

A service that applies a rule names it by its id (``legal.rule("EIO_DECISION_EXTENSION")``) and cites the
row's source in what it tells the user (``legal.cite(...)``), so that the text of an error, an event or a
warning and the law it rests on come from here. Each row is exercised by at least one test that names the
row's id in its name or docstring (``tests/unit/test_legal_rules.py`` checks it); a row says, in one
sentence, what the software does, not a paraphrase of the law.

Pure: no I/O. Rows are grouped by instrument; an id is written in upper case with underscores and never
reused for another rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from jitlib.jurisdictions import EU_MEMBER_STATES, is_jurisdiction

EIO = "Directive 2014/41/EU"
EPOC = "Reg. (EU) 2023/1543"
BUDAPEST = "Budapest Convention (CETS 185)"
SAP = "Second Additional Protocol (CETS 224)"
JIT_FD = "Council Framework Decision 2002/465/JHA"
JIT_CONVENTION = "2000 EU MLA Convention"
MLA_1959 = "1959 European Convention on Mutual Assistance in Criminal Matters (ETS 30)"
MLA_1978 = "Additional Protocol of 1978 (ETS 99)"
JIT_PLATFORM = "Reg. (EU) 2023/969"
VICTIMS = "Directive 2012/29/EU"
GDPR = "Reg. (EU) 2016/679"
LED = "Directive (EU) 2016/680"
VAW = "Directive (EU) 2024/1385"
DSA = "Reg. (EU) 2022/2065"

_ID = re.compile(r"^[A-Z][A-Z0-9_]{2,63}$")


@dataclass(frozen=True)
class Rule:
    #: Stable name, used in code and tests (``EPOC_SILENCE_IS_CONSENT``).
    id: str
    #: What the software does, in one sentence.
    says: str
    #: The legal text it rests on (instrument and article), or "GUESS: ..." / "UNVERIFIED: ..." where
    #: DOMAIN.md says so.
    source: str


def _table(*groups: Iterable[Rule]) -> dict[str, Rule]:
    out: dict[str, Rule] = {}
    for group in groups:
        for row in group:
            if not _ID.fullmatch(row.id):
                raise ValueError(f"legal rule id {row.id!r}: upper case, digits and underscores")
            if row.id in out:
                raise ValueError(f"legal rule {row.id} is in the table twice")
            if not row.says.strip() or not row.source.strip():
                raise ValueError(f"legal rule {row.id}: says what the software does and cites a source")
            out[row.id] = row
    return out


# -- the workspace: a Joint Investigation Team -------------------------------------------------------

_JIT: tuple[Rule, ...] = (
    Rule(
        "JIT_OTHER_USE_NEEDS_CONSENT",
        "evidence obtained in the JIT is used for other purposes only with the consent of the state where "
        "it arose, recorded on the item by that state alone: at upload by its own uploader, or later, when "
        "asked, by its prosecutor (RecordUseConsent); a consent stays as given, never withdrawn or edited",
        f"{JIT_FD} Art. 1(10); {JIT_CONVENTION} Art. 13(10); GUESS: a prosecutor consents for the state, and "
        f"the instruments provide no withdrawal of a consent others relied on",
    ),
    # Why the issuing state (GUESS): Art. 1(10) FD 2002/465 ties consent to "the Member State where the
    # information became available". Under an EPOC (Reg. 2023/1543 Art. 10: the provider transfers the data
    # directly to the issuing authority), an SAP Art. 7 order (CETS 224 Art. 7(1): disclosure to the requesting
    # authority) or a voluntary disclosure, no authority of the provider's state obtains or hands over anything:
    # the information first becomes available to the issuing authority, in its state. The provider's state is
    # notified of some EPOCs only (Art. 8) and may not see the order at all, so it could not be asked. An EIO,
    # MLA request or direct exchange is executed by the addressed state's authorities: the information became
    # available there. Not settled by any text read here: a notified enforcing state may claim otherwise.
    Rule(
        "ITEM_ORIGIN_OF_PROVIDER_DATA",
        "an item received against a request to a service provider (EPOC, SAP Art. 7, voluntary disclosure), "
        "which answers the issuing authority directly, arose in the issuing state, whose consent its other "
        "use needs; an item received against an EIO, MLA request or direct exchange arose in the addressee",
        f"GUESS: {JIT_FD} Art. 1(10) (the state where the information became available); {EPOC} Art. 10 (the "
        f"provider transfers the data to the issuing authority); {SAP} Art. 7(1)",
    ),
    Rule(
        "JIT_PERIOD_ENDED",
        "after the last day of a workspace's agreed period (ends_on, UTC) no new task, evidence request or "
        "preservation order is created in it (FAILED_PRECONDITION JIT_PERIOD_ENDED) until the agreement is "
        "extended; existing records keep their transitions, and members keep messaging, in existing or new "
        "channels, to wind the case down",
        f"{JIT_FD} Art. 1(1); {JIT_CONVENTION} Art. 13(1)",
    ),
    Rule(
        "JIT_PERIOD_WARNING",
        "the members of a workspace are warned in its workspace channel, with a period_warning event, 60, "
        "30 and 7 days before the last day of its agreed period (configurable), on that day and once it has "
        "ended: each warning once, only the latest one due, and a new end date starts a new series",
        f"{JIT_FD} Art. 1(1); {JIT_CONVENTION} Art. 13(1)",
    ),
    Rule(
        "JIT_PERIOD_EXTENSION",
        "the agreed period is extended by mutual consent by recording a later end date (`jit admin workspace "
        "extend`), announced as a new workspace version and written in every service's audit log; new "
        "records are accepted again and the warnings follow the new end date",
        f"{JIT_FD} Art. 1(1); {JIT_CONVENTION} Art. 13(1)",
    ),
    Rule(
        "JIT_MEMBER_TAKEN_OUT",
        "a member other than the lead taken out (`jit admin workspace remove-member`; refused when fewer than "
        "two states would remain) gets nothing new of the workspace, save an instrument addressed to it "
        "(JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES); its users no longer see it; its open tasks stay, for their "
        "issuer to take back (TASK_TAKEN_BACK) or cancel; what its node received stays there",
        f"GUESS: the JIT agreement's amendment governs; {JIT_FD} Art. 1(1) (a JIT of \"two or more Member "
        'States"), 1(10) (information lawfully obtained may be used for the purposes listed there)',
    ),
    Rule(
        "JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES",
        "an EIO, MLA request or EPOC may be addressed to a state that is not a member of the workspace (a "
        "third state, an EU state outside the team, a provider's notified enforcing state), which reads and "
        "acts on it as addressee; a direct exchange inside the JIT stays between members",
        f"{JIT_FD} Art. 1(7)-(9); {JIT_CONVENTION} Art. 13(7)-(9)",
    ),
    Rule(
        "ADDRESSEE_SEES_ONLY_WHAT_IS_ADDRESSED_TO_IT",
        "a state outside the workspace sees the requests addressed to it, their items and nothing else of "
        "the workspace: not the workspace, its other records or its channels, on any node",
        f"{JIT_PLATFORM} Art. 24 (need to know)",
    ),
)

# -- European Investigation Order ---------------------------------------------------------------------

_EIO: tuple[Rule, ...] = (
    Rule(
        "EIO_DECISION_EXTENSION",
        "the recognition decision's 30 days may be extended once, by 30 days, with reasons, asked before the 30 "
        "days end",
        f"{EIO} Art. 12(5)",
    ),
    # Grounds for non-recognition or non-execution, Art. 11(1)(a)-(h), each a ground the executing state
    # may raise against an EIO (REFUSAL_GROUNDS["EIO"]).
    Rule(
        "EIO_REFUSAL_IMMUNITY_OR_PRIVILEGE",
        "an EIO may be refused because an immunity or privilege, or the rules on criminal liability for press "
        "freedom and freedom of expression, of the executing state make it impossible to execute",
        f"{EIO} Art. 11(1)(a)",
    ),
    Rule(
        "EIO_REFUSAL_NATIONAL_SECURITY",
        "an EIO may be refused because executing it would harm essential national security interests, "
        "jeopardise the source of information or involve classified intelligence information",
        f"{EIO} Art. 11(1)(b)",
    ),
    Rule(
        "EIO_REFUSAL_NON_CRIMINAL_PROCEEDINGS",
        "an EIO issued in proceedings other than criminal (Art. 4(b), (c)) may be refused when the measure "
        "would not be authorised in a similar domestic case",
        f"{EIO} Art. 11(1)(c)",
    ),
    Rule(
        "EIO_REFUSAL_NE_BIS_IN_IDEM",
        "an EIO may be refused because executing it would be contrary to ne bis in idem",
        f"{EIO} Art. 11(1)(d)",
    ),
    Rule(
        "EIO_REFUSAL_EXTRATERRITORIALITY",
        "an EIO may be refused when the offence was committed outside the issuing state and wholly or partly "
        "in the executing state, where the conduct is not an offence",
        f"{EIO} Art. 11(1)(e)",
    ),
    Rule(
        "EIO_REFUSAL_FUNDAMENTAL_RIGHTS",
        "an EIO may be refused when there are substantial grounds to believe that executing the measure is "
        "incompatible with the executing state's obligations under Art. 6 TEU and the Charter",
        f"{EIO} Art. 11(1)(f)",
    ),
    Rule(
        "EIO_REFUSAL_NO_DOUBLE_CRIMINALITY",
        "an EIO may be refused when the conduct is no offence in the executing state, unless it is an Annex D "
        "offence punishable in the issuing state by at least 3 years",
        f"{EIO} Art. 11(1)(g)",
    ),
    Rule(
        "EIO_ANNEX_D_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY",
        "an EIO whose issuer indicated an Annex D offence (``LISTED_OFFENCES``) punishable in the issuing state "
        "by a custodial sentence or detention order of a maximum of at least 3 years is not refused on "
        "NO_DOUBLE_CRIMINALITY: the ground is not offered, and raising it is INVALID_ARGUMENT on the ground",
        f"{EIO} Art. 11(1)(g), Annex D",
    ),
    Rule(
        "EIO_REFUSAL_MEASURE_RESTRICTED",
        "an EIO may be refused when the executing state's law restricts the measure to a list or category of "
        "offences, or to offences above a penalty threshold, that does not include this one",
        f"{EIO} Art. 11(1)(h)",
    ),
    Rule(
        "EIO_REFUSAL_OTHER",
        "an EIO may be refused on a ground the Directive sets for a specific measure (OTHER, with the article "
        "named in the detail), besides the general grounds of Art. 11(1)",
        f"UNVERIFIED: {EIO} Art. 22-31 (grounds of specific investigative measures)",
    ),
    Rule(
        "EIO_POSTPONEMENT",
        "a postponed EIO resumes in the state it was postponed from (before the recognition decision, or in "
        "execution), and the deadline that ran then is suspended while postponed: it is counted as if the EIO "
        "had been received (or decided) as much later as it was held",
        f"{EIO} Art. 15, 12(3), 12(4)",
    ),
    Rule(
        "EIO_DELAY_NOTICE",
        "the executing state notifies a delay of the recognition decision or of the execution with its "
        "reasons and the date it expects, shown next to the legal deadline, which does not move and keeps "
        "its warnings",
        f"{EIO} Art. 12(5), 12(6)",
    ),
    Rule(
        "EIO_ONLY_BETWEEN_BOUND_STATES",
        "an EIO is issued and addressed only between EU member states bound by the Directive: one issued "
        "by or addressed to Ireland or Denmark (not bound) or a state outside the EU is refused at creation, "
        "naming MLA as the instrument to use",
        f"{EIO} Art. 1(1), 34(1); recitals 44-45",
    ),
)

# -- European Production and Preservation Orders ------------------------------------------------------

_EPOC: tuple[Rule, ...] = (
    Rule(
        "EPOC_SILENCE_IS_CONSENT",
        "an EPOC with notification proceeds once the enforcing state raised no ground within 10 days of "
        "receipt (or concluded its review without one): the issuer then records the provider's execution and "
        "delivery, and a ground raised after those 10 days is refused",
        f"{EPOC} Art. 10(2), 12(1)",
    ),
    Rule(
        "EPOC_EMERGENCY_OBJECTION",
        "a ground the notified enforcing state raises within 96 hours of receipt of an emergency EPOC is "
        "honoured even after the data was received or the request closed: it is refused and the items received "
        "are kept but restricted (no download or export, a RESTRICTED custody entry on each, once); a ground "
        "raised later is refused",
        f"{EPOC} Art. 10(4), 12(1)",
    ),
    Rule(
        "EPOC_EMERGENCY_OBJECTION_DURING_ENFORCEMENT",
        "a transfer for enforcement does not stop the notified state's 96 hours to object to an emergency EPOC: "
        "they keep running while the order is in enforcement and after recognition is refused, and a ground "
        "raised within them is honoured there as after execution (refused, the items received restricted)",
        f"GUESS: {EPOC} Art. 10(4), 12(1) count the 96 hours from receipt and nothing in Art. 16 ends them; "
        "Art. 16(1) enforces only where the enforcing authority invoked no ground of Art. 12 (UNVERIFIED)",
    ),
    # Enforcement of an order the provider did not comply with (Art. 16). UNVERIFIED: transcribed from memory of
    # the Regulation's Art. 16; check the Official Journal text before relying on the paragraph numbers.
    Rule(
        "EPOC_ENFORCEMENT_TRANSFER",
        "the issuer's prosecutor transfers an EPOC for enforcement to the enforcing state (the provider's "
        "establishment or legal representative, a bound state other than the issuer's) only once the provider "
        "is past its deadline without the data, or reported it not executed and the issuer does not accept that",
        f"UNVERIFIED: {EPOC} Art. 16(1)",
    ),
    Rule(
        "EPOC_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS",
        "the enforcing state decides on recognition within 5 working days of receipt of the transferred order, "
        "counted in its own calendar (weekends and its public holidays not counted): a deadline of the request, "
        "warned before and when passed",
        f"UNVERIFIED: {EPOC} Art. 16(2); Reg. 1182/71 Art. 3(3)",
    ),
    Rule(
        "EPOC_ENFORCEMENT_RECOGNISED",
        "once the enforcing state recognises the order it requires the provider to comply (sanctions under Art. "
        "15 are its own, not recorded here): the request returns to execution and the provider's delivery is "
        "recorded as before",
        f"UNVERIFIED: {EPOC} Art. 16(3), 15",
    ),
    Rule(
        "EPOC_ENFORCEMENT_COMPLIANCE_DEADLINE",
        "recognising the order, the enforcing state formally requires the provider to comply and sets it a "
        "deadline to comply or oppose; given as 1 to 90 days from the recognition, counted in the enforcing "
        "state's calendar, it is a deadline of the request, warned before and when passed, and replaces the "
        "provider's first deadline, which no longer runs nor shows overdue",
        f"UNVERIFIED: {EPOC} Art. 16(3) (the Regulation fixes no length); GUESS: days counted as Reg. 1182/71 "
        "Art. 3 counts them, the 90-day bound is this system's",
    ),
    Rule(
        "EPOC_ENFORCEMENT_NOT_TRANSFERRED_AGAIN",
        "an order the enforcing state recognised since its last receipt is not transferred for enforcement again, "
        "even once the deadline it set passed or the provider reported it not executed (FAILED_PRECONDITION "
        "ENFORCEMENT_ALREADY_RECOGNISED): its enforcement goes on in that state, which sanctions a provider that "
        "still does not comply; the issuer records a late delivery or withdraws the order",
        f"GUESS: {EPOC} Art. 16 has one transfer and one recognition decision, and provides no second transfer; "
        "UNVERIFIED: Art. 16(10) (a pecuniary sanction under Art. 15 where the provider does not comply with a "
        "recognised order)",
    ),
    Rule(
        "EPOC_ENFORCEMENT_REFUSAL_GROUNDS",
        "the enforcing state refuses recognition only on a closed list: not issued or validated by a competent "
        "authority, offence not covered by Art. 5(4), impossibility or manifest errors, data not stored, service "
        "not covered, immunities or privileges, manifest breach of fundamental rights; with the facts in detail",
        f"UNVERIFIED: {EPOC} Art. 16(4)(a)-(g); consulting the issuer first, Art. 16(7)",
    ),
    Rule(
        "EPOC_ENFORCING_STATE_SEES_THE_ORDER",
        "an enforcing state that could not read the request before reads it once the order is transferred to it, "
        "and acts on it as its addressee; the evidence items received against it stay with the parties they had "
        "(their events never reach its node)",
        f"GUESS: {EPOC} Art. 16(1) transfers the order and the Annex III form, not the data; need to know, "
        f"{JIT_PLATFORM} Art. 24",
    ),
    # Grounds the notified enforcing authority may raise, Art. 12(1)(a)-(d); the list is closed, so an EPOC
    # has no OTHER ground (REFUSAL_GROUNDS["EPOC"]).
    Rule(
        "EPOC_REFUSAL_IMMUNITY_OR_PRIVILEGE",
        "the enforcing state may refuse an EPOC whose data are protected by immunities or privileges, or by "
        "rules on criminal liability for press freedom and freedom of expression, of its law",
        f"{EPOC} Art. 12(1)(a)",
    ),
    Rule(
        "EPOC_REFUSAL_FUNDAMENTAL_RIGHTS",
        "the enforcing state may refuse an EPOC when, exceptionally, executing it would entail a manifest "
        "breach of a fundamental right (Art. 6 TEU, the Charter)",
        f"{EPOC} Art. 12(1)(b)",
    ),
    Rule(
        "EPOC_REFUSAL_NE_BIS_IN_IDEM",
        "the enforcing state may refuse an EPOC whose execution would be contrary to ne bis in idem",
        f"{EPOC} Art. 12(1)(c)",
    ),
    Rule(
        "EPOC_REFUSAL_NO_DOUBLE_CRIMINALITY",
        "the enforcing state may refuse an EPOC when the conduct is no offence under its law, unless it is an "
        "Annex IV offence punishable in the issuing state by at least 3 years",
        f"{EPOC} Art. 12(1)(d)",
    ),
    Rule(
        "EPOC_ANNEX_IV_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY",
        "an EPOC whose issuer indicated in the certificate an Annex IV offence (``LISTED_OFFENCES``) punishable "
        "in the issuing state by a custodial sentence or detention order of a maximum of at least 3 years is "
        "not refused on NO_DOUBLE_CRIMINALITY: the ground is not offered, and raising it is INVALID_ARGUMENT on "
        "the ground",
        f"{EPOC} Art. 12(1)(d), Annex IV",
    ),
    Rule(
        "EPOC_PR_ONE_EXTENSION",
        "a European Preservation Order's follow-up task offers an extension only while its one 30-day "
        "extension is unused and may still be asked; otherwise it asks for production and says why",
        f"{EPOC} Art. 11(1)",
    ),
    Rule(
        "EPOC_APPLIES_FROM_18_AUGUST_2026",
        "an EPOC is issued only from 18 August 2026, when the Regulation applies: issuing one earlier (by "
        "the service's clock) is refused",
        f"{EPOC} Art. 34(2)",
    ),
    Rule(
        "EPOC_PR_APPLIES_FROM_18_AUGUST_2026",
        "a European Preservation Order is issued only from 18 August 2026, when the Regulation applies: issuing "
        "one earlier by the service's clock, or recording an earlier issued_at, is refused",
        f"{EPOC} Art. 34(2)",
    ),
    Rule(
        "EPOC_ONLY_BETWEEN_BOUND_STATES",
        "an EPOC or EPOC-PR is issued by a member state bound by the Regulation (every one but Denmark) to a "
        "provider established or represented in another bound member state, the enforcing state: one issued "
        "by DK, to a provider in DK or outside the EU, or in the issuer's own state is refused at creation",
        f"{EPOC} Art. 1(1), 34; recital 95 (Denmark not bound; Ireland takes part)",
    ),
    Rule(
        "EPOC_NOTIFICATION_EXEMPTION_NEEDS_REASON",
        "an EPOC for traffic or content data without notification of the enforcing state is created only "
        "with a recorded reason (the offence was, is being or is likely to be committed in the issuing "
        "state and the person whose data are sought resides there); the reason is refused where no "
        "exemption applies",
        f"{EPOC} Art. 8(1)-(2)",
    ),
)

# -- preservation under every basis -------------------------------------------------------------------

_PRESERVATION: tuple[Rule, ...] = (
    Rule(
        "BUDAPEST_ART29_NOT_EXTENDED",
        "a Budapest Art. 29 preservation's follow-up task never offers an extension: it asks for the mutual "
        "legal assistance request for production, while which the preservation continues",
        f"{BUDAPEST} Art. 29(7)",
    ),
    Rule(
        "PROVIDER_EXTENSION_PER_GUIDELINE",
        "a provider's voluntary preservation's follow-up task offers an extension only when the provider's "
        "guideline grants one still open (an extension length, within its count and notice period)",
        "the provider's law-enforcement guideline (provider register)",
    ),
    # When each basis's clock starts (one row per clock start).
    Rule(
        "EPOC_PR_CLOCK_FROM_RECEIPT",
        "an EPOC-PR's 60 days run from the provider's receipt of the certificate (the issue time unless a "
        "receipt time is recorded): the order expires and is warned about from ISSUED, and the provider's "
        "confirmation does not move its expiry",
        f"{EPOC} Art. 11(1)",
    ),
    Rule(
        "EPOC_PR_PERIOD_COUNTED_AS_EU_LAW_COUNTS",
        "an EPOC-PR's 60 days (90 once extended) run from the day after the provider's receipt to the end of "
        "their last day in the local time of the provider's establishment, a last day that is a Saturday, "
        "Sunday or public holiday there moving to the end of the next working day; the extension may be asked "
        "until then",
        "Reg. (EEC, Euratom) No 1182/71 Art. 2(2), 3(1), 3(2), 3(4); "
        f"{EPOC} Art. 11(1); GUESS: the days are those of the provider's establishment (the register's), "
        "national public holidays only (the holidays package)",
    ),
    Rule(
        "BUDAPEST_ART29_CLOCK_FROM_RECEIPT",
        "a Budapest Art. 29 preservation's 60 days run from the requested Party's receipt of the request (the "
        "issue time unless a receipt time is recorded), the earliest the period can end",
        f"{BUDAPEST} Art. 29(3), 29(7)",
    ),
    Rule(
        "PROVIDER_VOLUNTARY_CLOCK_FROM_PROCESSING",
        "a provider's voluntary preservation runs from the provider's processing of the request, recorded as "
        "its confirmation: an unconfirmed order has no expiry yet",
        "GUESS: providers' law-enforcement guidelines (e.g. Meta, X) count their period from processing the request",
    ),
    Rule(
        "NATIONAL_CLOCK_FROM_RECEIPT",
        "a national preservation order's period runs from the provider's receipt of the order (the issue time "
        "unless a receipt time is recorded)",
        "GUESS: national law as configured on the node, after CETS 185 Art. 16(2) (the period of the order "
        "given to the custodian)",
    ),
    # Enforcement of an EPOC-PR the provider did not comply with (Art. 16 applies to both certificates).
    # UNVERIFIED as the EPOC's rows above: check the Official Journal text of Art. 16.
    Rule(
        "EPOC_PR_ENFORCEMENT_TRANSFER",
        "the issuer's prosecutor transfers an EPOC-PR for enforcement to a bound state other than its own (default "
        "the provider's establishment) once the provider failed to comply: recorded not executed, or issued and "
        "still unconfirmed past the node's confirmation delay (FAILED_PRECONDITION PROVIDER_NOT_IN_DEFAULT before)",
        f"UNVERIFIED: {EPOC} Art. 16(1); GUESS: the delay (JIT_PRESERVATION_CONFIRMATION_OVERDUE_DAYS) stands for "
        "'without undue delay', Art. 11(1)",
    ),
    Rule(
        "EPOC_PR_ENFORCEMENT_RECOGNITION_WITHIN_5_WORKING_DAYS",
        "the enforcing state decides on recognising a transferred EPOC-PR within 5 working days of its receipt, "
        "in its calendar: warned 48 h and 8 h before and when passed, each once",
        f"UNVERIFIED: {EPOC} Art. 16(2); Reg. 1182/71 Art. 3(3)",
    ),
    Rule(
        "EPOC_PR_ENFORCEMENT_RECOGNISED",
        "once the enforcing state recognises an EPOC-PR the provider is required to preserve: the order is ISSUED "
        "again and its confirmation recorded as before; refused on a ground of Art. 16(4) it is NOT_ENFORCED, "
        "which ends it",
        f"UNVERIFIED: {EPOC} Art. 16(3), 16(4), 15",
    ),
    Rule(
        "EPOC_PR_ENFORCEMENT_NOT_TRANSFERRED_AGAIN",
        "an EPOC-PR the enforcing state recognised is not transferred again (FAILED_PRECONDITION "
        "ENFORCEMENT_ALREADY_RECOGNISED): that state sanctions a provider that still does not comply",
        f"GUESS: {EPOC} Art. 16 has one transfer and one recognition decision",
    ),
    Rule(
        "EPOC_PR_CLOCK_RUNS_DURING_ENFORCEMENT",
        "an EPOC-PR's 60 days from receipt run on while it is in enforcement: it is warned, may be extended and "
        "expires as when ISSUED; an order transferred once its period ended is refused (PRESERVATION_EXPIRED)",
        f"GUESS: {EPOC} Art. 11(1) counts from receipt and Art. 16 stops no period",
    ),
    Rule(
        "EPOC_PR_ENFORCEMENT_PENDING_DURING_PRODUCTION",
        "production requested while an EPOC-PR is in enforcement stops its 60 days as from ISSUED; the enforcing "
        "state's decision stays pending, its 5 working days warned on, once each: recognised the order waits for "
        "production, refused it is NOT_ENFORCED; a failed request brings it back IN_ENFORCEMENT while undecided",
        f"GUESS: {EPOC} Art. 11(1) (preserved until production) and Art. 16(2) (the enforcing state's own "
        "period): neither suspends the other",
    ),
    Rule(
        "EPOC_PR_ENFORCING_STATE_SEES_THE_ORDER",
        "the enforcing state reads an EPOC-PR from its transfer on (as its addressee, from outside the workspace "
        "too) and its node receives the order's events from then on; NOT_FOUND and no event before",
        f"GUESS: {EPOC} Art. 16(1) transfers the order; need to know, {JIT_PLATFORM} Art. 24",
    ),
    # What a linked production request does to each basis's clock.
    Rule(
        "EPOC_PR_PRESERVED_UNTIL_PRODUCTION",
        "a production request linked to an EPOC-PR stops its clock: no expiry and no warnings while "
        "PRODUCTION_REQUESTED, the time left kept on the order",
        f"{EPOC} Art. 11(1), 11(2)",
    ),
    Rule(
        "BUDAPEST_ART29_PRESERVED_PENDING_DECISION",
        "a production (MLA) request linked to a Budapest Art. 29 preservation stops its clock while the request "
        "is decided, the time left kept on the order",
        f"{BUDAPEST} Art. 29(7)",
    ),
    Rule(
        "PROVIDER_VOLUNTARY_CLOCK_RUNS_DURING_PRODUCTION",
        "a provider's voluntary preservation keeps its expiry, warnings and extensions while a production "
        "request is pending: the provider deletes the data when its own period ends",
        "GUESS: providers' law-enforcement guidelines (a period, extended on request; no rule ties it to a "
        "production request)",
    ),
    Rule(
        "NATIONAL_CLOCK_RUNS_DURING_PRODUCTION",
        "a national preservation order keeps its expiry, warnings and renewals while a production request is pending",
        "GUESS: national law as configured on the node, after CETS 185 Art. 16(2) (a period, renewable)",
    ),
    Rule(
        "PRESERVATION_PRODUCTION_REQUEST_FOR_THE_PRESERVED_DATA",
        "a linked evidence request is the order's production request only when addressed where the order's "
        "provider is established and, for an EPOC-PR, an EPOC, EIO or MLA request (Budapest Art. 29: MLA or "
        "EIO); any other leaves the clock running, and the issuer is warned once, naming why",
        f"{EPOC} Art. 11(1); {BUDAPEST} Art. 29(1), 29(7); GUESS: which instruments count as that request",
    ),
    # A production request and the end of the period.
    Rule(
        "PRESERVATION_PRODUCTION_REQUESTED_BEFORE_EXPIRY",
        "a production request counts when it was issued before the order's expiry: one issued at or after it is "
        "refused and the order expires; one issued before but recorded after (its event consumed late) is "
        "judged when it was issued, and an EPOC-PR or Budapest Art. 29 order the clock expired meanwhile is "
        "preserved until production",
        f"{EPOC} Art. 11(1) (production confirmed within the 60 days); {BUDAPEST} Art. 29(7)",
    ),
    # A production request that fails.
    Rule(
        "PRESERVATION_CLOCK_RESUMES_AFTER_FAILED_PRODUCTION",
        "when the linked production request is refused, withdrawn or not executed, the order returns to its "
        "state before PRODUCTION_REQUESTED, a stopped clock runs again from then with the time that was left "
        "when it stopped (never a fresh period, never an expiry in the past), and the issuer is warned until "
        "when preservation runs",
        f"{EPOC} Art. 11(1)-(3); {BUDAPEST} Art. 29(7); GUESS: neither text says what a failed production "
        "request does to the period, so the time the issuer had left is given back",
    ),
    # The provider's notice to the account holder (DOMAIN.md, Victim safeguards).
    Rule(
        "PRESERVATION_USER_NOTICE_SUPPRESSION_LAPSES",
        "an order records whether its provider may notify the account holder; one suppressed by a "
        "non-disclosure order shows the suppression as lapsed from its end on, and its issuer is warned before "
        "it ends and when it has ended (once each), to renew it before the provider may tell the account holder "
        "that their data were preserved; only the issuing side's prosecutor changes it",
        f"{EPOC} Art. 13 (user information may be delayed; UNVERIFIED for a preservation order, Art. 11); "
        f"{BUDAPEST} Art. 16(4) (the custodian keeps preservation confidential for the period domestic law "
        "sets), Art. 29 (GUESS: the same for a request); GUESS: the order's own term, warnings as evidence's",
    ),
)

# -- removal requests to platforms (issue 18) ------------------------------------------------------------

_REMOVAL: tuple[Rule, ...] = (
    Rule(
        "REMOVAL_DSA_ART9_CLOCK",
        "an order to act against illegal content is due back (removed, blocked or refused) the node's target "
        "after it was sent (JIT_PRESERVATION_REMOVAL_ART9_HOURS, default 24 h); later is shown past due",
        f"{DSA} Art. 9(1) (the provider informs the authority of the effect given without undue delay); "
        "GUESS: the 24 h default target, the text sets no hours",
    ),
    Rule(
        "REMOVAL_NATIONAL_DEADLINE",
        "a national removal order is due by the deadline its jurisdiction's law sets where the node's table "
        "has one (default DE: 24 h for manifestly illegal content), else by the Art. 9 target",
        "GUESS: after NetzDG section 3(2) no. 2 (24 h for manifestly unlawful content), largely displaced by "
        f"{DSA} since 17 February 2024; other jurisdictions' deadlines configured on the node",
    ),
    Rule(
        "REMOVAL_DSA_ART22_CLOCK",
        "a trusted flagger's notice is due back the node's target after it was sent "
        "(JIT_PRESERVATION_REMOVAL_ART22_HOURS, default 24 h)",
        f"{DSA} Art. 22(1) (processed and decided upon with priority and without undue delay); GUESS: the "
        "24 h default target",
    ),
    Rule(
        "REMOVAL_DSA_ART16_CLOCK",
        "an authority's or other notice is due back the node's target after it was sent "
        "(JIT_PRESERVATION_REMOVAL_ART16_HOURS, default 72 h)",
        f"{DSA} Art. 16(6) (decisions taken in a timely, diligent, non-arbitrary and objective manner); "
        "GUESS: the 72 h default target",
    ),
    Rule(
        "REMOVAL_PRESERVE_FIRST",
        "a removal request for content with no live preservation order of the same platform and target in "
        "the workspace is refused (NO_LIVE_PRESERVATION) unless the issuer records why it goes on; a live "
        "order is linked, and its clock is not changed by the removal",
        "GUESS: after Reg. (EU) 2021/784 Art. 6 (removed content preserved for proceedings) and CETS 185 "
        "Art. 16 (preservation before data is lost)",
    ),
    Rule(
        "REMOVAL_VICTIM_NOTICE",
        "when content of a removal request is removed or restored, each victim it names gets a notice "
        "(CONTENT_REMOVED or CONTENT_RESTORED) from the system, once per event",
        f"{VICTIMS} Art. 6 (the victim's right to information about their case)",
    ),
    Rule(
        "REMOVAL_PLATFORM_ANSWERS",
        "the platform's answers (acknowledged, removed, geo-blocked, refused with a reason, the uploader's "
        "appeal, restored) are recorded by a prosecutor or liaison of the issuing side, with when it answered",
        f"{DSA} Art. 9(1), 17(3) (statement of reasons), 20 (internal complaint); the platform is not a user",
    ),
    Rule(
        "REMOVAL_REUPLOAD_REOPENS",
        "a re-upload of removed content (an item's SHA-256 seen again) reopens the request: back to SENT with "
        "a new clock from when it was seen, and the request's re-upload count goes up",
        "GUESS: CJEU C-18/18 Glawischnig-Piesczek (an order may cover identical content); DSA Art. 9 "
        "orders name the items",
    ),
)

# -- other instruments (MLA, Second Additional Protocol, voluntary) ------------------------------------

_OTHER: tuple[Rule, ...] = (
    # Grounds on which a mutual legal assistance request may be refused (REFUSAL_GROUNDS["MLA"]). The 2000
    # EU MLA Convention supplements the 1959 Convention and adds no grounds of its own.
    Rule(
        "MLA_REFUSAL_POLITICAL_OFFENCE",
        "an MLA request may be refused when the requested state considers the offence political or connected "
        "with a political offence",
        f"{MLA_1959} Art. 2(a)",
    ),
    Rule(
        "MLA_REFUSAL_FISCAL_OFFENCE",
        "an MLA request may be refused as concerning a fiscal offence, except between parties to the 1978 "
        "Additional Protocol, which may not refuse on that ground alone (the detail says which applies)",
        f"{MLA_1959} Art. 2(a); {MLA_1978} Art. 1",
    ),
    Rule(
        "MLA_REFUSAL_ESSENTIAL_INTERESTS",
        "an MLA request may be refused when executing it is likely to prejudice the sovereignty, security, "
        "ordre public or other essential interests of the requested state",
        f"{MLA_1959} Art. 2(b)",
    ),
    Rule(
        "MLA_REFUSAL_NO_DOUBLE_CRIMINALITY",
        "an MLA request for search or seizure may be refused when the requested state made it conditional on "
        "the offence being punishable under both states' laws and it is not",
        f"{MLA_1959} Art. 5(1)(a)",
    ),
    Rule(
        "MLA_REFUSAL_OTHER",
        "an MLA request may be refused on a ground of the treaty that applies (a bilateral treaty, a "
        "reservation): OTHER, with the treaty and article named in the detail",
        f"UNVERIFIED: the applicable treaty (bilateral treaties; reservations to {MLA_1959} Art. 23)",
    ),
    Rule(
        "JIT_DIRECT_REFUSAL_OTHER",
        "a direct exchange inside the JIT cites no instrument's grounds: the member declines it as OTHER, with "
        "its reasons in the detail",
        f"GUESS: {JIT_FD} Art. 1(7) has measures taken as in a national investigation, with no grounds list",
    ),
    Rule(
        "LISTED_OFFENCE_INDICATION",
        "the issuer of an EPOC (Annex IV) or an EIO (Annex D) may indicate, while the request is drafted, the "
        "listed offence category it concerns (one of ``LISTED_OFFENCES``) with the maximum custodial sentence "
        "in the issuing state in months (1 to 1200), both or neither; no other instrument has such an annex",
        f"{EPOC} Art. 12(1)(d), Annex IV; {EIO} Art. 11(1)(g), Annex D; GUESS/UNVERIFIED: the categories are "
        "transcribed from memory of both annexes (the 32 categories also listed in Council Framework Decision "
        "2002/584/JHA Art. 2(2)), not checked against the Official Journal; the bound of 1200 months (a life "
        "sentence is entered as 1200) is the system's",
    ),
    Rule(
        "SAP_ART7_SUBSCRIBER_ONLY",
        "a direct request to a provider under the Second Additional Protocol Art. 7 asks for subscriber "
        "information only: any other data category is refused at creation",
        f"{SAP} Art. 7(1)",
    ),
)

# -- every evidence request, whatever its instrument ---------------------------------------------------

_REQUESTS: tuple[Rule, ...] = (
    Rule(
        "REQUEST_PERIODS_COUNTED_AS_EU_LAW_COUNTS",
        "a deadline in days runs from the day after receipt (or decision) to the end of its last day in the "
        "local time of the jurisdiction that must act, and a last day that is a Saturday, Sunday or public "
        "holiday there moves to the end of the next working day; one in hours runs from the next full hour",
        "Reg. (EEC, Euratom) No 1182/71 Art. 2(2), 3(1), 3(2), 3(4); UNVERIFIED: whether the EIO's national "
        "transpositions count otherwise; national public holidays only (the holidays package), none for an "
        "EU body",
    ),
    Rule(
        "REQUEST_PARTIAL_REFUSAL",
        "a ground may be raised against some of the requested data categories only: those are refused, the "
        "rest proceeds, and refusing the last open category refuses the request",
        f"GUESS: a ground may reach part of the data requested ({EPOC} Art. 12(1)(a), 'the data requested'; "
        f"{EIO} Art. 11(1)); not written per category in either",
    ),
    Rule(
        "REQUEST_PARTIAL_EXECUTION",
        "execution is recorded per requested data category (subscriber, traffic, content): some executed, the "
        "others still open, until the execution is complete",
        f"GUESS: DOMAIN.md's PARTIALLY_EXECUTED, per data category as {EPOC} Art. 3 defines them",
    ),
    Rule(
        "REQUEST_RESUBMISSION",
        "a refused request may be clarified and submitted again, whatever its ground: a new receipt from "
        "which the instrument's deadlines run again, the earlier refusals kept on the record",
        f"GUESS: no instrument forbids asking again; deadlines run from receipt ({EIO} Art. 12; {EPOC} Art. 10)",
    ),
    Rule(
        "USER_NOTICE_SUPPRESSION_LAPSES",
        "a request to a provider whose notice to the user is suppressed by a non-disclosure order shows the "
        "suppression as lapsed from its end on, and its issuer is warned before it ends and when it has ended, "
        "as of a deadline, to renew it before the provider may notify the account holder",
        f"GUESS: the non-disclosure order's own term; the account holder is often the suspect ({VICTIMS} "
        "Art. 18, 21: protection of victims; DOMAIN.md, Victim safeguards)",
    ),
    Rule(
        "REQUEST_ISSUER_TAKEN_OUT",
        "an evidence request whose issuing state was taken out of the workspace (JIT_MEMBER_TAKEN_OUT) stays "
        "that state's, but nobody left in the JIT acts on it as issuer: its remaining members and its addressee "
        "are shown that their copy is no longer kept up to date from the issuer's side",
        "GUESS: follows from JIT_MEMBER_TAKEN_OUT, as ORDER_ISSUER_TAKEN_OUT; no legal text on the copies",
    ),
    Rule(
        "REQUEST_ADDRESSEE_TAKEN_OUT",
        "a direct exchange inside the JIT addressed to a state later taken out of the workspace no longer "
        "reaches that state's node and nobody answers it: the remaining members are shown so, and its issuer may "
        "withdraw it while it is open; an EIO, MLA request or EPOC to a former member is not flagged",
        "GUESS: follows from JIT_MEMBER_TAKEN_OUT and JIT_INSTRUMENTS_TOWARD_OUTSIDE_STATES (a direct "
        "exchange is between members); no legal text on an exchange whose addressee left",
    ),
)

# -- tasks: how practitioners use them (no legal text; GUESS rows say so) -----------------------------

_TASK_GUESS = "GUESS: no legal text; a task is the issuing state's request to another (DOMAIN.md, Task)"

_TASKS: tuple[Rule, ...] = (
    Rule(
        "TASK_RENEGOTIATION",
        "the issuer changes an open task's due date and/or priority, with a reason and a version check; the "
        "addressee asks for new terms through the task's thread, and overdue stays derived from due_at",
        _TASK_GUESS,
    ),
    Rule(
        "TASK_HAND_BACK",
        "the addressee hands an accepted, started or blocked task back with a reason; the issuer sees it "
        "HANDED_BACK and assigns it again, to the same or another member, or cancels it",
        _TASK_GUESS,
    ),
    Rule(
        "TASK_TAKEN_BACK",
        "a task whose assignee was taken out of the workspace (JIT_MEMBER_TAKEN_OUT) is shown so to the "
        "remaining members; its issuer assigns it to a current member from any open state, accepted or "
        "started included, with a reason (one is recorded when none is given); while the assignee is a "
        "member, an accepted task is only cancelled or handed back",
        _TASK_GUESS,
    ),
    Rule(
        "ORDER_ISSUER_TAKEN_OUT",
        "a preservation order whose issuing state was taken out of the workspace (JIT_MEMBER_TAKEN_OUT) stays "
        "that state's order, but its node sends the workspace nothing more of it: the remaining members are "
        "shown that their copy is no longer kept up to date and that nobody left in the JIT acts on it as issuer",
        "GUESS: follows from JIT_MEMBER_TAKEN_OUT; no legal text on the copies",
    ),
    Rule(
        "TASK_FOLLOW_UP_NOT_FOR_FORMER_MEMBER",
        "no follow-up task is opened for a preservation order whose issuing state was taken out of the "
        "workspace (ORDER_ISSUER_TAKEN_OUT): only that state may extend the order or ask for its production, its "
        "users no longer see the workspace, and nobody left could take the task back (TASK_TAKEN_BACK); one "
        "opened before stays, shown with its assignee taken out",
        "GUESS: follows from ORDER_ISSUER_TAKEN_OUT; whether another member should take over the data's "
        "preservation (its own order) is the JIT's decision, not the software's",
    ),
    Rule(
        "TASK_FOLLOW_UP_CLOSES",
        "the system closes a preservation order's follow-up task once, when the order's events make it moot: "
        "verified when the order is extended, produced or kept until production, cancelled when it is "
        "lifted, expires or is not executed, naming the event",
        "GUESS: no legal text; the follow-up task is the system's own (ARCHITECTURE.md, choreography)",
    ),
)

# -- retention, legal hold and deletion (jitlib.retention holds the table of periods) --------------------

_RETENTION_GUESS = (
    "GUESS: national law sets how long a case file is kept after the case; the period is a setting "
    f"(DOMAIN.md: the JIT's life plus a configurable period; {JIT_FD} Art. 1(1) limits the JIT's period)"
)

_RETENTION: tuple[Rule, ...] = (
    Rule(
        "RETENTION_AUDIT_LOG",
        "each service keeps its audit entries 3 years, then prunes older ones, keeping a checkpoint (seq and "
        "hash of the last pruned entry, when, by whom) from which the rest of the chain still verifies; the "
        "pruning is itself an audit entry",
        f"{JIT_PLATFORM} Art. 25",
    ),
    Rule(
        "RETENTION_CASE_RECORDS",
        "a closed workspace's tasks are kept N years after the JIT agreement's last day (N: the workspace's "
        "setting, else the node's JIT_RETENTION_YEARS), then crypto-shredded with a deletion certificate",
        _RETENTION_GUESS,
    ),
    Rule(
        "RETENTION_EVIDENCE",
        "evidence requests and items are held while the proceedings run: kept until the proceedings are "
        "recorded closed, then N years (never before N years after the agreement's end), then shredded",
        f"GUESS: evidence serves the proceedings ({JIT_FD} Art. 1(10)(a)); national law sets the period after",
    ),
    Rule(
        "RETENTION_REMOVAL",
        "a removal request's record is kept like the case records (N years after the agreement's end)",
        "GUESS: the request's record here as a case record (Directive (EU) 2016/680 Art. 4(1)(e), 5)",
    ),
    Rule(
        "RETENTION_PRESERVATION",
        "a preservation order's record is kept like the case records (N years after the agreement's end); "
        "the preserved data stays with the provider for the instrument's period, which the order's clock tracks",
        f"{EPOC} Art. 11(1); {BUDAPEST} Art. 29(7); GUESS: the order's record here as a case record",
    ),
    Rule(
        "RETENTION_MESSAGES",
        "a workspace's channels and messages are crypto-shredded JIT_MESSAGING_RETENTION_DAYS after this node "
        "first saw the workspace closed, plus a grace period in which a reopening stops the clock",
        "GUESS: DOMAIN.md (the JIT's life plus a configurable period); messaging's own clock",
    ),
    Rule(
        "RETENTION_VICTIMS",
        "a closed workspace's victim records (pseudonyms, sealed identities, notices, referrals) are kept like "
        "the case records they serve, N years after the agreement's end, then crypto-shredded",
        f"GUESS: {LED} Art. 4(1)(e), 5 (kept no longer than needed, time limits for erasure); no period set there",
    ),
    Rule(
        "LEGAL_HOLD",
        "while a legal hold is set on a workspace (jit admin retention hold, with a reason) no service deletes "
        "anything of it, whatever its retention clock says; setting and releasing it is audited in every service",
        "GUESS: a court or prosecutor may need a file kept past its period (appeal, new proceedings); "
        "no EU text sets the procedure",
    ),
    Rule(
        "DELETION_CERTIFICATE",
        "each deletion writes a certificate: service, workspace, record kinds and counts, key ids, when, by "
        "whom, and the service's audit head (seq, hash) at that moment; it is appended to the audit chain",
        f"GUESS: accountability for erasure ({LED} Art. 4(4), 5; UNVERIFIED: not in DOMAIN.md)",
    ),
)

# -- victims in the records of a case ----------------------------------------------------------------

_VICTIM_REFERENCES: tuple[Rule, ...] = (
    Rule(
        "VICTIM_BY_PSEUDONYM",
        "a task, evidence request or preservation order names the victims it concerns by their pseudonyms "
        "from the victims service (V-NL-0007, under the workspace lead's code), at most 50, each once, and "
        "lists filter by one; anything else in their place is refused, naming victim_refs[i]",
        "Directive 2012/29/EU Art. 21(1); GUESS: the pseudonym's form, issue 16",
    ),
)

# -- sensitive evidence: intimate images and the like ----------------------------------------------

_SENSITIVE: tuple[Rule, ...] = (
    Rule(
        "SENSITIVE_ITEM_MARKING",
        "an evidence item is marked sensitive at its upload, or later by a prosecutor of the jurisdiction "
        "that received it with a reason; the marking is lifted only by such a prosecutor with a reason; each "
        "is a custody entry and an audit entry",
        f"GUESS: {VICTIMS} Art. 21(1) (protect the victim's privacy and images); {VAW} Art. 5 (intimate "
        f"images); neither says how a record is marked",
    ),
    Rule(
        "SENSITIVE_ITEM_OPEN_NEEDS_PURPOSE",
        "a sensitive item's content opens only for a prosecutor or police liaison of a jurisdiction party to "
        "its request, with a stated purpose, each opening a custody entry with that purpose; others see its "
        "size, digest and media type only, and no preview is ever shown",
        f"GUESS: {VICTIMS} Art. 21(1); {JIT_PLATFORM} Art. 24 (need to know); {VAW} Art. 5",
    ),
    Rule(
        "SENSITIVE_ITEM_EXPORT_FOUR_EYES",
        "a sensitive item is exported or transferred only after a prosecutor of the requester's jurisdiction, "
        "not the requester, approved that request (purpose, destination): by the requester, to that "
        "destination, once, within 24 hours; request, approval and export are custody entries",
        f"GUESS: {VICTIMS} Art. 21(1); {VAW} Art. 5; no text prescribes a second person's approval",
    ),
)

# -- statistics and the JIT's evaluation (jitlib.stats, the victims service's StatisticsService) -------

_STATISTICS: tuple[Rule, ...] = (
    Rule(
        "SMALL_CELLS_SUPPRESSED",
        "a statistic's cell counting fewer than k records, or grouped by a victim attribute and about fewer than "
        "k victims, shows as suppressed (k is 5 by default, raised never lowered), and each row or column "
        "hiding a cell hides at least two counting k together, so that no total gives one back",
        f"{LED} Art. 4(3) (statistical use with appropriate safeguards); {GDPR} Art. 89(1); "
        "GUESS: k = 5 and the complementary suppression are the safeguard chosen here",
    ),
    Rule(
        "VAW_STATISTICS",
        "statistics count requests, deadlines, preservation orders, tasks and victims per offence of Directive "
        "(EU) 2024/1385 (Arts. 5-8) and disaggregate them by the victim's gender, age group, disability, "
        "ethnicity and socioeconomic status where recorded",
        f"{VAW} Art. 44 (GUESS: which paragraph, and attributes beyond sex and age)",
    ),
    Rule(
        "JIT_EVALUATION",
        "the prosecutors of a workspace's lead jurisdiction export the JIT's evaluation (its tables as CSV and "
        "a chart) at its end or any time, small cells suppressed",
        "GUESS: the evaluation the JIT model agreement foresees (Council Resolution 2017/C 18/01), no Art.",
    ),
    Rule(
        "VICTIM_OFFENCES",
        "a victim's record carries the offences the victim suffered in Directive (EU) 2024/1385's categories "
        "(intimate or manipulated material, cyber stalking, cyber harassment, doxxing, cyber incitement, or "
        "other); another value is INVALID_ARGUMENT naming offences[i]",
        f"{VAW} Arts. 5-8 (GUESS: doxxing counted as cyber harassment, Art. 7)",
    ),
    Rule(
        "SPECIAL_CATEGORIES_CONSENT",
        "a victim's special-category attributes are recorded only with the victim's consent and a stated "
        "purpose (both required: INVALID_ARGUMENT naming the field), in their own table, sealed at rest",
        f"{GDPR} Art. 9(2)(a); {LED} Art. 10 (strictly necessary, with safeguards; GUESS: consent is the "
        "safeguard here, the legal basis the state's law)",
    ),
    Rule(
        "SPECIAL_CATEGORIES_NEED_TO_KNOW",
        "a victim's special-category attributes are read per person only by the prosecutors and police "
        "liaisons of the victim's jurisdiction who are members of the workspace, each read audited; everyone "
        "else gets NOT_FOUND, and the statistics only",
        f"{LED} Art. 10; {JIT_PLATFORM} Art. 24 (need to know); Directive 2012/29/EU Art. 21",
    ),
    Rule(
        "SPECIAL_CATEGORIES_WITHDRAWN",
        "when the victim withdraws consent the attributes are destroyed (their row deleted) and count as not "
        "recorded from then on",
        f"{GDPR} Art. 7(3), 17(1)(b)",
    ),
    # The scorecard per platform (issue 18): how each platform answers, counted like the statistics.
    Rule(
        "SCORECARD_CONFIRMATION_TARGET",
        "the scorecard counts a platform's confirmation of a preservation order as past its clock when it came "
        "later than the node's confirmation target after the order's receipt (or none came and the target has "
        "passed); the target is the confirmation-overdue setting (default 3 days)",
        f'{EPOC} Art. 11(1) (preserve "without undue delay"); GUESS: the target in days is the node\'s',
    ),
    Rule(
        "SCORECARD_PRODUCTION_CLOCK",
        "the scorecard counts a platform's production after an EPOC-PR as past its clock when the data came "
        "more than 10 days after production was requested (or none came and those days have passed); for the "
        "other bases this service knows no production deadline and counts none",
        f"{EPOC} Art. 10(3) (10 days from receipt of the EPOC); GUESS: the request recorded here stands for "
        "its receipt, and an emergency EPOC (8 hours, Art. 10(4)) is not told apart",
    ),
    Rule(
        "SCORECARD_FROM_VISIBLE_RECORDS",
        "the scorecard counts only the orders and removal requests of the caller's workspaces that the caller "
        "may read (the READ rule of the order lists), with small cells suppressed as in the statistics; police "
        "liaisons, prosecutors and participants of a member jurisdiction get it",
        f"{JIT_PLATFORM} Art. 24 (need to know); GUESS: the brief of issue 18 (liaisons are its main users)",
    ),
)

# -- victims (issue 16; the Victims' Rights Directive) ---------------------------------------------------

_VICTIMS: tuple[Rule, ...] = (
    Rule(
        "VICTIM_PSEUDONYM",
        "a victim is known in the workspace only by a pseudonym V-<lead>-<NNNN>, a sequence per lead "
        "jurisdiction on the lead's node, and tasks, requests and orders name that pseudonym",
        f"{VICTIMS} Art. 21(1) (protect the victim's privacy and identity); GUESS: the pseudonym's form",
    ),
    Rule(
        "VICTIM_HELD_BY_LEAD",
        "a victim's record is held by the node of the workspace's lead: a registration or an identity read "
        "made on another node goes to the lead's node, and other nodes hold the pseudonym only",
        "GUESS: one place with the narrowest visibility (DOMAIN.md, victim safeguards; issue 16)",
    ),
    Rule(
        "VICTIM_IDENTITY_NEED_TO_KNOW",
        "a victim's identity is sealed at rest, never in an event, a log or a list, and read only by a "
        "prosecutor or police liaison of the victim's jurisdiction in the workspace, with a stated purpose, "
        "each read audited; to anyone else it is NOT_FOUND",
        f"{VICTIMS} Art. 21(1); {JIT_PLATFORM} Art. 24 (need to know); GUESS: the victim's jurisdiction "
        "alone has need to know",
    ),
    Rule(
        "VICTIM_INFORMATION_RIGHTS",
        "what a victim was told about the case's key steps (rights, complaint, decision not to prosecute, "
        "trial, release or escape, state of proceedings, judgment) is recorded with when, by whom, in which "
        "language and how",
        f"{VICTIMS} Art. 4, 5(1), 6, 7",
    ),
    Rule(
        "VICTIM_SUPPORT_REFERRAL",
        "a referral to a victim support service is recorded only with the victim's consent, with the "
        "service and the date",
        f"{VICTIMS} Art. 8(2), 9",
    ),
)

#: Every rule, by id.
RULES: dict[str, Rule] = _table(
    _JIT,
    _EIO,
    _EPOC,
    _PRESERVATION,
    _REMOVAL,
    _OTHER,
    _REQUESTS,
    _TASKS,
    _STATISTICS,
    _RETENTION,
    _VICTIM_REFERENCES,
    _VICTIMS,
    _SENSITIVE,
)

#: The grounds for refusal of each instrument (the legal basis of an evidence request), in the order of
#: their article; each is the row ``<BASIS>_REFUSAL_<GROUND>``. An instrument not listed has no refusal
#: procedure (a provider answering an SAP Art. 7 or voluntary request reports non-execution instead).
#: The closed list of grounds on which the enforcing state refuses to recognise a transferred EPOC, in the
#: order of Art. 16(4)(a)-(g) (rule EPOC_ENFORCEMENT_REFUSAL_GROUNDS; UNVERIFIED).
ENFORCEMENT_REFUSAL_GROUNDS: tuple[str, ...] = (
    "NOT_ISSUED_BY_COMPETENT_AUTHORITY",
    "OFFENCE_NOT_COVERED",
    "IMPOSSIBLE_OR_MANIFEST_ERRORS",
    "DATA_NOT_STORED",
    "SERVICE_NOT_COVERED",
    "IMMUNITY_OR_PRIVILEGE",
    "FUNDAMENTAL_RIGHTS",
)

REFUSAL_GROUNDS: dict[str, tuple[str, ...]] = {
    "EIO": (
        "IMMUNITY_OR_PRIVILEGE",
        "NATIONAL_SECURITY",
        "NON_CRIMINAL_PROCEEDINGS",
        "NE_BIS_IN_IDEM",
        "EXTRATERRITORIALITY",
        "FUNDAMENTAL_RIGHTS",
        "NO_DOUBLE_CRIMINALITY",
        "MEASURE_RESTRICTED",
        "OTHER",
    ),
    "MLA": ("POLITICAL_OFFENCE", "FISCAL_OFFENCE", "ESSENTIAL_INTERESTS", "NO_DOUBLE_CRIMINALITY", "OTHER"),
    "EPOC": ("IMMUNITY_OR_PRIVILEGE", "FUNDAMENTAL_RIGHTS", "NE_BIS_IN_IDEM", "NO_DOUBLE_CRIMINALITY"),
    "JIT_DIRECT": ("OTHER",),
}

#: The categories of offences for which an EPOC (Reg. (EU) 2023/1543 Annex IV) or an EIO (Directive 2014/41
#: Annex D) is not refused for lack of double criminality when punishable in the issuing state by at least
#: three years (LISTED_OFFENCE_INDICATION: GUESS/UNVERIFIED, transcribed from memory of the annexes, in their
#: order; both annexes hold the same 32 categories as FD 2002/584/JHA Art. 2(2)). Proto ``ListedOffence``.
LISTED_OFFENCES: tuple[str, ...] = (
    "PARTICIPATION_IN_CRIMINAL_ORGANISATION",
    "TERRORISM",
    "TRAFFICKING_IN_HUMAN_BEINGS",
    "SEXUAL_EXPLOITATION_OF_CHILDREN",
    "DRUG_TRAFFICKING",
    "WEAPONS_TRAFFICKING",
    "CORRUPTION",
    "FRAUD",
    "MONEY_LAUNDERING",
    "COUNTERFEITING_CURRENCY",
    "COMPUTER_RELATED_CRIME",
    "ENVIRONMENTAL_CRIME",
    "FACILITATION_OF_UNAUTHORISED_ENTRY",
    "MURDER_GRIEVOUS_BODILY_INJURY",
    "ILLICIT_TRADE_IN_HUMAN_ORGANS",
    "KIDNAPPING_HOSTAGE_TAKING",
    "RACISM_AND_XENOPHOBIA",
    "ORGANISED_OR_ARMED_ROBBERY",
    "TRAFFICKING_IN_CULTURAL_GOODS",
    "SWINDLING",
    "RACKETEERING_AND_EXTORTION",
    "COUNTERFEITING_AND_PIRACY_OF_PRODUCTS",
    "FORGERY_OF_ADMINISTRATIVE_DOCUMENTS",
    "FORGERY_OF_MEANS_OF_PAYMENT",
    "HORMONAL_SUBSTANCES_TRAFFICKING",
    "NUCLEAR_MATERIALS_TRAFFICKING",
    "STOLEN_VEHICLES_TRAFFICKING",
    "RAPE",
    "ARSON",
    "INTERNATIONAL_CRIMINAL_COURT_CRIMES",
    "UNLAWFUL_SEIZURE_OF_AIRCRAFT_OR_SHIPS",
    "SABOTAGE",
)
#: The instruments whose issuer may indicate a listed offence, and the annex that lists them.
LISTED_OFFENCE_ANNEX: dict[str, str] = {"EPOC": "Annex IV", "EIO": "Annex D"}
#: The least maximum custodial sentence, in months, in the issuing state for which a listed offence is not
#: refused for lack of double criminality (three years), and the most a request may state (LISTED_OFFENCE_INDICATION).
LISTED_OFFENCE_MIN_MONTHS = 36
MAX_SENTENCE_MONTHS_MAX = 1200
#: The row of each instrument's exception to NO_DOUBLE_CRIMINALITY.
_DOUBLE_CRIMINALITY_EXCEPTION = {
    "EPOC": "EPOC_ANNEX_IV_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY",
    "EIO": "EIO_ANNEX_D_OFFENCE_NOT_REFUSED_FOR_DOUBLE_CRIMINALITY",
}


def double_criminality_exception(legal_basis: str, listed_offence: str, max_sentence_months: int) -> str:
    """The id of the row that keeps a request of ``legal_basis`` from being refused on NO_DOUBLE_CRIMINALITY
    (an Annex IV or Annex D offence indicated, punishable in the issuing state by at least three years), or
    "" when the ground stays open to the executing or enforcing state."""
    if legal_basis not in _DOUBLE_CRIMINALITY_EXCEPTION or listed_offence not in LISTED_OFFENCES:
        return ""
    return _DOUBLE_CRIMINALITY_EXCEPTION[legal_basis] if max_sentence_months >= LISTED_OFFENCE_MIN_MONTHS else ""


def refusal_grounds(legal_basis: str, listed_offence: str = "", max_sentence_months: int = 0) -> tuple[str, ...]:
    """The grounds on which a request of ``legal_basis`` may be refused (``REFUSAL_GROUNDS``), less
    NO_DOUBLE_CRIMINALITY when its listed offence and maximum sentence exclude it
    (``double_criminality_exception``)."""
    grounds = REFUSAL_GROUNDS.get(legal_basis, ())
    if double_criminality_exception(legal_basis, listed_offence, max_sentence_months):
        return tuple(g for g in grounds if g != "NO_DOUBLE_CRIMINALITY")
    return grounds


#: The member states bound by Reg. (EU) 2023/1543 (e-evidence): every one but Denmark, which takes no part
#: (recital 95; Ireland opted in). The one list both the evidence and the preservation service check an EPOC
#: and an EPOC-PR against (EPOC_ONLY_BETWEEN_BOUND_STATES).
EPOC_BOUND_STATES: frozenset[str] = EU_MEMBER_STATES - {"DK"}
#: Reg. (EU) 2023/1543 applies from this day (Art. 34(2)): no EPOC or EPOC-PR is issued before
#: (EPOC_APPLIES_FROM_18_AUGUST_2026, EPOC_PR_APPLIES_FROM_18_AUGUST_2026).
EPOC_APPLIES_FROM = datetime(2026, 8, 18, tzinfo=UTC)


def _epoc_outside(code: str) -> str:
    """Why ``code`` is outside the Regulation's territory ("" when it is bound by it)."""
    if code in EPOC_BOUND_STATES or not is_jurisdiction(code):  # a malformed code is refused as such elsewhere
        return ""
    return "is not bound by Reg. (EU) 2023/1543" if code in EU_MEMBER_STATES else "is not an EU member state"


def epoc_issuer_problem(instrument: str, issuer: str) -> str:
    """Why ``issuer`` may not issue an ``instrument`` (EPOC or EPOC-PR) under Reg. (EU) 2023/1543, in words
    that end with the row's citation; "" when it may (``rule("EPOC_ONLY_BETWEEN_BOUND_STATES")``)."""
    why = _epoc_outside(issuer)
    if not why:
        return ""
    return (
        f"an {instrument} is not issued by {issuer}, which {why}: use another instrument (mutual legal "
        f"assistance, the Budapest Convention, the provider's voluntary cooperation) "
        f"{cite('EPOC_ONLY_BETWEEN_BOUND_STATES')}"
    )


def epoc_provider_problem(instrument: str, provider_state: str, issuer: str = "") -> str:
    """Why an ``instrument`` (EPOC or EPOC-PR) may not go to a provider established or represented in
    ``provider_state`` (the enforcing state) from ``issuer``, in words that end with the row's citation; ""
    when it may. ``issuer`` empty: only whether that state is bound by the Regulation
    (``rule("EPOC_ONLY_BETWEEN_BOUND_STATES")``)."""
    why = _epoc_outside(provider_state)
    if why:
        return (
            f"an {instrument} is not addressed to a provider in {provider_state}, which {why}: use another "
            f"instrument (mutual legal assistance, the Budapest Convention, the provider's voluntary cooperation) "
            f"{cite('EPOC_ONLY_BETWEEN_BOUND_STATES')}"
        )
    if issuer and provider_state == issuer:
        return (
            f"an {instrument} goes to a provider established or represented in another member state than the "
            f"issuer's; one in {issuer} is ordered under {issuer}'s national law "
            f"{cite('EPOC_ONLY_BETWEEN_BOUND_STATES')}"
        )
    return ""


def refusal_rule(legal_basis: str, ground: str) -> Rule | None:
    """The row of ``ground`` under ``legal_basis`` (an evidence request's instrument); None when that
    instrument has no such ground."""
    if ground not in REFUSAL_GROUNDS.get(legal_basis, ()):
        return None
    return rule(f"{legal_basis}_REFUSAL_{ground}")


def rule(rule_id: str) -> Rule:
    """The row ``rule_id``; a KeyError names an id that is not in the table (a typo is a bug, not law)."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"no legal rule {rule_id} in jitlib.legal.RULES") from None


def source(rule_id: str) -> str:
    return rule(rule_id).source


def cite(rule_id: str) -> str:
    """The row's source in parentheses, to end a sentence shown to a user: ``(Directive 2014/41/EU Art. 12(5))``."""
    return f"({source(rule_id)})"


for _basis, _grounds in REFUSAL_GROUNDS.items():  # every ground of every instrument is a row of the table
    for _ground in _grounds:
        if f"{_basis}_REFUSAL_{_ground}" not in RULES:
            raise ValueError(f"refusal ground {_ground} of {_basis} has no row {_basis}_REFUSAL_{_ground}")

__all__ = [
    "BUDAPEST",
    "DSA",
    "EIO",
    "EPOC",
    "EPOC_APPLIES_FROM",
    "EPOC_BOUND_STATES",
    "GDPR",
    "JIT_CONVENTION",
    "JIT_FD",
    "JIT_PLATFORM",
    "LED",
    "LISTED_OFFENCES",
    "LISTED_OFFENCE_ANNEX",
    "LISTED_OFFENCE_MIN_MONTHS",
    "MAX_SENTENCE_MONTHS_MAX",
    "MLA_1959",
    "MLA_1978",
    "REFUSAL_GROUNDS",
    "RULES",
    "SAP",
    "VAW",
    "VICTIMS",
    "Rule",
    "cite",
    "double_criminality_exception",
    "epoc_issuer_problem",
    "epoc_provider_problem",
    "refusal_grounds",
    "refusal_rule",
    "rule",
    "source",
]
