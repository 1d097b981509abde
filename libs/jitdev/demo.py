"""`make demo`: a cross-border case played through the `jit` command, step by step, printing what each
party does and what they see. Every step checks its outcome, so the same script is the end-to-end test
(tests/e2e/test_demo.py runs it against services the test suite starts).

The case: a victim in NL is harassed and her intimate images are shared by an account holder in DE, on a
platform established in IE. NL leads a JIT with DE and IE; FR is not a member. The victim is registered
once and named by her pseudonym (V-NL-0001 and so on) in every order, request and task: no title or
description of the case says anything about her (``victim_details`` checks it, here and in a unit test).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: The victim's identity as the demo registers it (DEMO ONLY data): it must never show up outside the
#: victims service, in particular in no title or description of the case.
VICTIM_NAME = "DEMO ONLY victim"
#: Words about a victim that have no place in a record's title or description, where the pseudonym goes
#: (Directive 2012/29/EU Art. 21(1); rule VICTIM_BY_PSEUDONYM): who she is, her relation to anyone, her body.
VICTIM_WORDS = re.compile(
    r"\b(victim'?s?|victims'?|she|her|hers|herself|girl|woman|daughter|sister|mother|wife|girlfriend|"
    r"ex-?partner|minor|aged? \d+|born|lives in|naked|nude)\b",
    re.IGNORECASE,
)


def victim_details(text: str, identity: Iterable[str] = (VICTIM_NAME,)) -> list[str]:
    """What in ``text`` (a title or description) speaks about a victim rather than naming her pseudonym:
    words about a victim (``VICTIM_WORDS``) and any of her ``identity`` details; [] when there is none."""
    found = [m.group(0) for m in VICTIM_WORDS.finditer(text)]
    return found + [d for d in identity if d and d.lower() in text.lower()]


USERS = [
    "nl-prosecutor",
    "nl-liaison",
    "de-liaison",
    "de-prosecutor",
    "ie-liaison",
    "ie-prosecutor",
    "fr-prosecutor",
    "nl-auditor",
]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


Runner = Callable[[list[str], dict[str, str]], Result]


def subprocess_runner(args: list[str], env: dict[str, str]) -> Result:
    jit = Path(sys.executable).parent / "jit"
    proc = subprocess.run(
        [str(jit), *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120, check=False
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


class DemoFailed(AssertionError):
    pass


def country_of(user: str) -> str:
    return user.split("-")[0].upper()


@dataclass
class Nodes:
    """The case played on a federation: each country's users on their own node (``make demo NODES=``)."""

    #: The jit command's settings for each country's node (realm, addresses, NATS), by country; a
    #: country without a node (FR) talks to the first node, with its own realm.
    env: dict[str, dict[str, str]]
    #: Cut (False) or restore (True) a node's link to the others.
    set_link: Callable[[str, bool], None]

    def node_for(self, country: str) -> str:
        """The node a country's users ask: their own, or the first node for a country without one."""
        return country if country in self.env else next(iter(self.env))

    def env_for(self, country: str) -> dict[str, str]:
        return {**self.env[self.node_for(country)], "JIT_REALM": f"jit-{country.lower()}"}


@dataclass
class Demo:
    run_jit: Runner
    env: dict[str, str]
    out: Callable[[str], None] = print
    workspace: str = field(default_factory=lambda: f"case-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}")
    ids: dict[str, str] = field(default_factory=dict)
    nodes: Nodes | None = None
    #: Where the evaluation and the scorecard are written, each in a new folder: the system's temporary
    #: folder for ``make demo``, which says where; a test's own, which it removes.
    exports: Path | None = None

    # -- plumbing --------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.out(f"\n== {text}")

    def jit(
        self,
        *args: str,
        as_user: str | None = None,
        json_out: bool = False,
        expect_fail: bool | None = False,
        show: bool = True,
        on: str = "",
    ) -> Result:
        """Run the jit command; on a federation, against the node of ``as_user``'s country (or ``on``).
        ``expect_fail`` None: return the result whatever it is."""
        argv = [*(["--json"] if json_out else []), *(["--as", as_user] if as_user else []), *args]
        env = self.env
        if self.nodes is not None:
            country = on or (country_of(as_user) if as_user else "NL")
            env = {**self.nodes.env_for(country), **self.env}
            if as_user:  # a user always logs in to their own country's realm, whichever node they ask
                env["JIT_REALM"] = f"jit-{country_of(as_user).lower()}"
            if show:
                self.out(f"[{self.nodes.node_for(country)} node]")
        if show:
            self.out("$ jit " + " ".join(shlex.quote(a) for a in argv))
        res = self.run_jit(argv, env)
        if show:
            text = (res.stdout + res.stderr).rstrip()
            if text and not json_out:
                self.out("  " + text.replace("\n", "\n  "))
        if expect_fail is None:
            return res
        if expect_fail and res.code == 0:
            raise DemoFailed(f"jit {' '.join(argv)} should have been refused")
        if not expect_fail and res.code != 0:
            raise DemoFailed(f"jit {' '.join(argv)} failed ({res.code}): {res.stderr.strip()}")
        return res

    def retry(self, attempt: Callable[[], bool], what: str, timeout: float = 60) -> None:
        """On a federation, what one node did reaches another a moment later: try until it has."""
        deadline = time.monotonic() + timeout
        while not attempt():
            if time.monotonic() > deadline:
                raise DemoFailed(f"not within {timeout:.0f} s: {what}")
            time.sleep(0.5)

    def create_naming_victim(self, *args: str, as_user: str) -> Any:
        """``jit --json <args> --request-id <id>`` for a record that names the victim: each service learns
        her pseudonym from the victims service's events, a moment after she was registered; until then the
        create is refused naming victim_refs, and tried again with the same request id (one record at most)."""
        argv = [*args, "--request-id", str(uuid.uuid4())]
        deadline, first = time.monotonic() + 60, True
        while True:
            res = self.jit(*argv, as_user=as_user, json_out=True, expect_fail=None, show=first)
            if res.code == 0:
                return res.json()
            if "not a victim registered" not in res.stderr or time.monotonic() > deadline:
                raise DemoFailed(f"jit {' '.join(argv)} failed ({res.code}): {res.stderr.strip()}")
            first = False
            time.sleep(0.3)

    def check(self, condition: bool, what: str) -> None:
        if not condition:
            raise DemoFailed(what)
        self.out(f"  ok: {what}")

    # -- the case --------------------------------------------------------------------------------

    def login_everyone(self) -> None:
        self.say("Each party logs in (demo users, password `demo`)")
        for user in USERS:
            self.jit("login", user, "--password", "demo", show=False, on=country_of(user))
        self.out("  logged in: " + ", ".join(USERS))

    def open_workspace(self) -> None:
        ws = self.workspace
        self.say(f"The NL prosecutor, JIT leader, has the workspace {ws} opened: NL, DE and IE; FR is not a member")
        today = dt.date.today()
        self.jit(
            "admin",
            "workspace",
            "create",
            ws,
            "--name",
            "JIT: online harassment and image abuse NL-DE-IE",
            "--lead",
            "NL",
            "--member",
            "NL",
            "--member",
            "DE",
            "--member",
            "IE",
            "--legal-basis",
            "FD 2002/465/JHA; EU MLA Convention Art. 13",
            "--starts",
            today.isoformat(),
            "--ends",
            (today + dt.timedelta(days=540)).isoformat(),
            on="NL",
        )
        members = {
            "NL": ["nl-prosecutor", "nl-liaison"],
            "DE": ["de-liaison", "de-prosecutor"],
            "IE": ["ie-liaison", "ie-prosecutor"],
        }
        for jur, users in members.items():
            with_users = [a for u in users for a in ("--user", u)]
            if self.nodes is not None and jur != "NL":
                # Each country's administrator adds their own users, in their own realm, on their own node,
                # once NL's node has announced the workspace to theirs.
                self.retry(self._joins(ws, jur, with_users), f"the workspace reaches the {jur} node")
                continue
            self.jit("admin", "workspace", "add-member", ws, "--jurisdiction", jur, *with_users, show=False, on="NL")
        self.out("  members added: NL (nl-prosecutor, nl-liaison), DE (de-liaison, de-prosecutor), IE (ie-liaison)")
        # Tokens carry group membership from when they were issued: log in again to carry the new one.
        for user in ("nl-prosecutor", "nl-liaison", "de-liaison", "de-prosecutor", "ie-liaison", "ie-prosecutor"):
            self.jit("login", user, "--password", "demo", show=False, on=country_of(user))

    def _sees(self, user: str, *args: str) -> Callable[[], bool]:
        def attempt() -> bool:
            return self.jit(*args, as_user=user, show=False, expect_fail=None).code == 0

        return attempt

    def _joins(self, ws: str, country: str, with_users: list[str]) -> Callable[[], bool]:
        def attempt() -> bool:
            res = self.jit("admin", "workspace", "join", ws, *with_users, show=False, on=country, expect_fail=None)
            return res.code == 0

        return attempt

    def register_victim(self) -> None:
        self.say("The NL liaison registers the victim: the JIT knows her by a pseudonym, never by her name")
        victim = self.jit(
            "victim", "register", "--workspace", self.workspace, "--jurisdiction", "NL",
            "--name", "DEMO ONLY victim", "--language", "nl", "--language", "en",
            as_user="nl-liaison", json_out=True,
        ).json()  # fmt: skip
        self.ids["victim"] = pseudonym = victim["pseudonym"]
        self.out(f"  the victim is {pseudonym} (held by NL, the lead); her identity is sealed")
        self.jit(
            "victim", "notice", pseudonym, "--step", "rights-explained", "--language", "nl", "--how", "in-person",
            as_user="nl-liaison", show=False,
        )  # fmt: skip
        self.jit(
            "victim", "refer", pseudonym, "--service", "Slachtofferhulp Nederland", "--consent", as_user="nl-liaison"
        )
        res = self.jit(
            "victim", "identity", victim["id"], "--purpose", "curious", as_user="de-prosecutor", expect_fail=True
        )
        self.check("NOT_FOUND" in res.stderr, "DE, not the victim's jurisdiction, gets NOT_FOUND for her identity")

    def preserve(self) -> None:
        self.say("The NL liaison orders the platform (established in IE) to preserve the account's data")
        order = self.create_naming_victim(
            "preservation",
            "create",
            "--workspace",
            self.workspace,
            "--provider",
            "socialnet-ie",
            "--basis",
            "epoc-pr",
            "--target",
            "handle:@rev3ng3_pics",
            "--data",
            "subscriber",
            "--data",
            "traffic",
            "--data",
            "content",
            "--share",
            "DE",
            "--description",
            f"Images of {self.ids['victim']} posted without consent; preserve before deletion.",
            "--victim",
            self.ids["victim"],
            as_user="nl-liaison",
        )
        self.ids["order"] = order["id"]
        # The demo compresses time: the order went out 56 days ago and the platform confirmed the next day.
        now = dt.datetime.now(dt.UTC)
        issued = (now - dt.timedelta(days=56)).strftime("%Y-%m-%dT%H:%MZ")
        confirmed = (now - dt.timedelta(days=55)).strftime("%Y-%m-%dT%H:%MZ")
        self.jit("preservation", "issue", self.ids["order"], "--issued-at", issued, as_user="nl-liaison", show=False)
        self.say(f"Sent on {issued[:10]}; the platform's confirmation of {confirmed[:10]} starts the 60-day clock")
        self.jit(
            "preservation",
            "confirm",
            self.ids["order"],
            "--confirmed-at",
            confirmed,
            "--reference",
            "SN-LE-2026-0042",
            as_user="nl-liaison",
        )
        self.jit("preservation", "due", "--within", "7d", as_user="nl-liaison")

    def remove_images(self) -> None:
        """Preserve before removing (REMOVAL_PRESERVE_FIRST): with the account's data preserved, the NL liaison
        asks the platform to remove the victim's images under DSA Art. 9; the request is linked to the live
        order, whose expiry the removal leaves as it was; the platform's REMOVED reaches the victim as a notice
        (REMOVAL_VICTIM_NOTICE)."""
        self.say("Preserved first, the NL liaison orders the platform to remove the images (DSA Art. 9)")
        before = self.jit("preservation", "show", self.ids["order"], as_user="nl-liaison", json_out=True, show=False)
        image = hashlib.sha256(b"DEMO ONLY image 1").hexdigest()
        removal = self.create_naming_victim(
            "removal",
            "create",
            "--workspace",
            self.workspace,
            "--provider",
            "socialnet-ie",
            "--basis",
            "dsa-art9-order",
            "--item",
            f"https://socialnet.example/rev3ng3_pics/p/1 account=@rev3ng3_pics sha256={image}",
            "--item",
            "https://socialnet.example/rev3ng3_pics/p/2 account=@rev3ng3_pics",
            "--victim",
            self.ids["victim"],
            as_user="nl-liaison",
        )
        self.ids["removal"] = removal["id"]
        self.check(
            removal.get("preservation_order_id") == self.ids["order"],
            "the removal request is linked to the live preservation order of the account",
        )
        self.jit("removal", "ack", removal["id"], as_user="nl-liaison", show=False)
        self.jit("removal", "removed", removal["id"], as_user="nl-liaison")
        after = self.jit("preservation", "show", self.ids["order"], as_user="nl-liaison", json_out=True, show=False)
        self.check(
            after.json().get("expires_at") == before.json().get("expires_at"),
            "the images are removed, and the preservation clock runs on: the order's expiry is unchanged",
        )
        victim = self.ids["victim"]

        def told() -> bool:
            res = self.jit("victim", "notices", victim, as_user="nl-liaison", json_out=True, show=False)
            return any(n.get("step") == "NOTICE_STEP_CONTENT_REMOVED" for n in res.json().get("notices", []))

        self.retry(told, f"a notice that the content was removed on {victim}", timeout=60)
        self.jit("victim", "notices", victim, as_user="nl-liaison")
        self.out(f"  ok: {victim}'s notices show the removal, for the NL liaison supporting her to tell her")

    def follow_up_appears(self) -> None:
        self.say("The order nears expiry: the tasks service opens a follow-up task for NL by itself")
        deadline = time.monotonic() + 90
        while True:
            listed = self.jit(
                "task",
                "list",
                "--workspace",
                self.workspace,
                "--state",
                "assigned",
                as_user="nl-liaison",
                json_out=True,
                show=False,
            ).json()
            follow = [t for t in listed.get("tasks", []) if t.get("kind") in ("TASK_KIND_FOLLOW_UP", "follow-up")]
            if follow:
                break
            if time.monotonic() > deadline:
                raise DemoFailed("no follow-up task appeared for the expiring preservation order")
            time.sleep(1.0)
        self.ids["follow_up"] = follow[0]["id"]
        self.jit("task", "show", self.ids["follow_up"], as_user="nl-liaison")
        self.check(follow[0]["assignee_jurisdiction"] == "NL", "the follow-up task is addressed to NL, the issuer")

    def production_order(self) -> None:
        self.say("NL issues a European Production Order to the platform, linked to the preservation order")
        if self.nodes is not None:
            self.nodes.set_link("IE", False)
            self.out("  (IE's node is cut off from the others while NL issues it)")
        req = self.create_naming_victim(
            "evidence",
            "request",
            "create",
            "--workspace",
            self.workspace,
            "--basis",
            "epoc",
            "--procedure",
            "with-notification",
            "--to",
            "IE",
            "--provider",
            "Socialnet Ireland Ltd.",
            "--authority",
            "Public Prosecution Service, Amsterdam (NL)",
            "--title",
            "Subscriber, traffic and content data of @rev3ng3_pics",
            "--target",
            "account:@rev3ng3_pics",
            "--data",
            "subscriber",
            "--data",
            "traffic",
            "--data",
            "content",
            "--offence",
            "non-consensual-intimate-images",
            "--preservation-order",
            self.ids["order"],
            "--share",
            "DE",
            "--victim",
            self.ids["victim"],
            "--issue",
            as_user="nl-prosecutor",
        )
        self.ids["request"] = req["id"]
        self.out(f"  evidence request {req['id']} issued to the platform established in IE")
        deadline = time.monotonic() + 60
        while True:
            order = self.jit(
                "preservation", "show", self.ids["order"], as_user="nl-liaison", json_out=True, show=False
            ).json()
            if "PRODUCTION_REQUESTED" in str(order.get("state", "")).upper():
                break
            if time.monotonic() > deadline:
                raise DemoFailed("the preservation order did not move to PRODUCTION_REQUESTED")
            time.sleep(1.0)
        self.jit("preservation", "show", self.ids["order"], as_user="nl-liaison")
        self.check(True, "the order now waits for production: it no longer expires")
        if self.nodes is not None:
            get = ("evidence", "request", "show", self.ids["request"])
            self.check(not self._sees("ie-prosecutor", *get)(), "IE's node, cut off, has not received it")
            self.nodes.set_link("IE", True)
            self.out("  IE's link is back")
            self.retry(self._sees("ie-prosecutor", *get), "the order reaches IE's node once its link is back")
            self.check(True, "IE's node received the order after its link returned")

    def evidence_arrives(self) -> None:
        self.say("The platform answers: the evidence arrives with its digest, and its chain of custody starts")
        self.jit("evidence", "request", "acknowledge", self.ids["request"], as_user="nl-prosecutor", show=False)
        self.out("  content data: IE, where the platform is established, may raise grounds for refusal (10 days)")
        self.jit("evidence", "request", "open-review", self.ids["request"], as_user="ie-prosecutor")
        self.jit("evidence", "request", "conclude-review", self.ids["request"], as_user="ie-prosecutor", show=False)
        self.out("  IE raised no ground: the platform produces the data")
        with tempfile.TemporaryDirectory() as tmp:
            export = Path(tmp) / "socialnet-export-rev3ng3_pics.json"
            export.write_text(
                json.dumps(
                    {
                        "account": "@rev3ng3_pics",
                        "subscriber": {"email": "demo@example.invalid"},
                        "logins": [{"ip": "198.51.100.23", "at": "2026-11-02T21:14:00Z"}],
                    }
                )
            )
            item = self.jit(
                "evidence",
                "upload",
                str(export),
                "--request",
                self.ids["request"],
                "--media-type",
                "application/json",
                as_user="nl-liaison",
                json_out=True,
            ).json()
        self.ids["item"] = item["id"]
        self.out(f"  item {item['id']}: sha256 {item.get('sha256', '')}")
        self.jit("evidence", "request", "complete", self.ids["request"], as_user="nl-prosecutor", show=False)
        self.jit("evidence", "custody", self.ids["item"], as_user="nl-prosecutor")
        self.jit("evidence", "verify", as_user="nl-auditor")

    def assign_identification(self) -> None:
        self.say("NL asks DE to identify the holder of the account that shares the images")
        task = self.create_naming_victim(
            "task",
            "create",
            "--workspace",
            self.workspace,
            "--assignee",
            "DE",
            "--kind",
            "identify-account-holder",
            "--priority",
            "urgent",
            "--due-in",
            "10d",
            "--title",
            f"Identify the holder of @rev3ng3_pics (posts images of {self.ids['victim']})",
            "--victim",
            self.ids["victim"],
            "--description",
            "Account on a platform established in IE; logins appear to come from DE.",
            as_user="nl-prosecutor",
        )
        self.ids["task"] = task["id"]
        self.out(f"  task {task['id']} is {task['state']} for {task['assignee_jurisdiction']}")
        if self.nodes is not None:
            self.out("  NL's node owns the task; DE's node receives a copy, IE's node nothing (restricted to NL, DE)")
            self.retry(self._sees("de-liaison", "task", "show", task["id"]), "the task reaches DE's node")
        self.jit("task", "list", "--workspace", self.workspace, as_user="de-liaison")
        self.say("The DE liaison accepts and starts the task; IE, a member but no party, does not see it")
        self.jit("task", "accept", self.ids["task"], as_user="de-liaison")
        self.jit("task", "start", self.ids["task"], as_user="de-liaison", show=False)
        self.jit("task", "show", self.ids["task"], as_user="ie-liaison", expect_fail=True)

    def discuss(self) -> None:
        self.say("NL and DE discuss in the task's thread; the system has posted what happened to the task")
        ref = f"task:{self.ids['task']}"
        self.jit(
            "msg", "send", ref, "Please check the login IP addresses of the last 30 days.", as_user="nl-prosecutor"
        )
        if self.nodes is not None:
            self.out("  (the thread is held by NL's node, which owns the task; DE's post goes there from DE's node)")
        self.jit("msg", "send", ref, "Requested from the ISP; answer expected Thursday.", as_user="de-liaison")
        thread = self.jit("msg", "read", ref, as_user="nl-prosecutor", json_out=True).json()
        notices = [m["body"] for m in thread["messages"] if m.get("system")]
        self.jit("msg", "read", ref, as_user="nl-prosecutor")
        self.check("DE accepted the task" in notices, "the thread shows the system notice 'DE accepted the task'")
        if self.nodes is not None:
            self.retry(
                lambda: (
                    "Please check the login IP" in self.jit("msg", "read", ref, as_user="de-liaison", show=False).stdout
                ),
                "NL's message reaches DE's node",
            )
            self.jit("msg", "read", ref, as_user="de-liaison")
            self.check(True, "DE reads the thread on its own node, sealed there under DE's keys")

    def complete_identification(self) -> None:
        self.say("DE completes the identification; NL, the issuer, verifies it")
        self.jit(
            "task",
            "complete",
            self.ids["task"],
            "--outcome",
            "Account holder identified: resident of Cologne.",
            as_user="de-liaison",
        )
        self.jit("task", "verify", self.ids["task"], as_user="de-prosecutor", expect_fail=True)
        verified = self.jit("task", "verify", self.ids["task"], as_user="nl-prosecutor", json_out=True).json()
        self.check(verified["state"] in ("TASK_STATE_VERIFIED", "verified"), "the task is verified by NL")

    def records_name_only_the_pseudonym(self) -> None:
        victim = self.ids["victim"]
        self.say(f"Every record of the case names the victim {victim}; no title or description says who she is")
        ws = self.workspace
        self.jit("task", "list", "--workspace", ws, "--victim", victim, as_user="nl-prosecutor")
        tasks = self.jit("task", "list", "--workspace", ws, "--all", as_user="nl-prosecutor", json_out=True, show=False)
        requests = self.jit(
            "evidence", "request", "list", "--workspace", ws, as_user="nl-prosecutor", json_out=True, show=False
        )
        orders = self.jit(
            "preservation", "list", "--workspace", ws, "--all", as_user="nl-liaison", json_out=True, show=False
        )
        records = [*tasks.json()["tasks"], *requests.json(), *orders.json()["orders"]]
        said = {
            r["id"]: found
            for r in records
            if (found := victim_details(f"{r.get('title', '')}\n{r.get('description', '')}"))
        }
        self.check(not said, f"no title or description of the case's {len(records)} records speaks about the victim")
        naming = {r["id"] for r in records if victim in r.get("victim_refs", [])}
        mine = {self.ids[k] for k in ("order", "request", "task", "follow_up")}
        self.check(mine <= naming, f"the order, the request, the task and the follow-up task name {victim}")

    def count_the_jit(self) -> None:
        """The JIT's statistics: aggregates only, and with one request of each kind every cell is under k,
        so it is suppressed (SMALL_CELLS_SUPPRESSED); the lead's prosecutor exports the evaluation."""
        self.say("NL counts its JIT: only aggregates leave the victims service, and a cell under 5 is suppressed")
        ws = self.workspace
        args = ("stats", "show", "--workspace", ws, "--measure", "requests", "--by", "instrument,addressee")
        deadline = time.monotonic() + 20
        while True:  # the request's events reach the statistics' projection within moments
            table = self.jit(*args, as_user="nl-prosecutor", json_out=True, show=False).json()["table"]
            if table["total"].get("suppressed") or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.jit(*args, as_user="nl-prosecutor")
        self.check(
            bool(table["cells"]) and all(c.get("suppressed") for c in [*table["cells"], table["total"]]),
            "every cell counts fewer than 5 requests: all are shown as suppressed, none as its figure",
        )
        out = Path(tempfile.mkdtemp(prefix="jit-evaluation-", dir=self.exports))
        self.jit("stats", "evaluation", ws, "--out", str(out), as_user="nl-prosecutor", show=False)
        png = (out / f"{ws}-evaluation.png").read_bytes()
        self.check(
            (out / f"{ws}-evaluation.csv").stat().st_size > 0 and png.startswith(b"\x89PNG"),
            f"the JIT's evaluation is written as CSV and a PNG chart in {out}",
        )

    def score_the_platforms(self) -> None:
        """The scorecard per platform, for the liaison who tracks them: with one order to the platform its
        cells count fewer than 5 and are suppressed (SMALL_CELLS_SUPPRESSED); CSV and chart written."""
        self.say("The NL liaison reads how the platforms answered: with one order, every figure is suppressed")
        out = Path(tempfile.mkdtemp(prefix="jit-scorecard-", dir=self.exports))
        csv_path, png_path = out / "scorecard.csv", out / "scorecard.png"
        args = ("scorecard", "--workspace", self.workspace, "--csv", str(csv_path), "--png", str(png_path))
        self.jit(*args, as_user="nl-liaison")
        card = self.jit(*args, as_user="nl-liaison", json_out=True, show=False).json()
        answers = [a for p in card.get("platforms", []) for a in p.get("answers", [])]
        self.check(
            bool(answers) and all(a.get("suppressed") for a in answers),
            "the order's platform is scored, and each of its cells (under 5) is shown as suppressed",
        )
        self.check(
            csv_path.stat().st_size > 0 and png_path.read_bytes().startswith(b"\x89PNG"),
            f"the scorecard is written as CSV and a PNG chart in {out}",
        )

    def outsider_is_refused(self) -> None:
        self.say("An FR prosecutor, not a member of this JIT, finds nothing")
        res = self.jit("task", "show", self.ids["task"], as_user="fr-prosecutor", expect_fail=True)
        self.check("NOT_FOUND" in res.stderr, "FR gets NOT_FOUND: the task's existence does not leak")

    def audit(self, services: list[str]) -> None:
        self.say("The auditor verifies the tamper-evident audit chain of every service")
        for service in services:
            self.jit("audit", "verify", "--service", service, as_user="nl-auditor")

    def play(self, services: list[str]) -> None:
        self.login_everyone()
        self.open_workspace()
        self.register_victim()
        self.preserve()
        self.remove_images()
        self.assign_identification()
        self.follow_up_appears()
        self.production_order()
        self.evidence_arrives()
        self.discuss()
        self.complete_identification()
        self.records_name_only_the_pseudonym()
        self.count_the_jit()
        self.score_the_platforms()
        self.outsider_is_refused()
        self.audit(services)
        self.say("The case moved across three jurisdictions; every step is in the audit chains.")


def nodes_of_local_run(state: Path) -> Nodes:
    """The federation `make run NODES=...` started: each node's jit settings and its link switch."""
    from jitdev.federation import set_link

    known = json.loads((state / "nodes.json").read_text())
    env: dict[str, dict[str, str]] = {}
    for country in known["countries"]:
        lines = (state / "nodes" / country.lower() / "cli.env").read_text().splitlines()
        env[country] = dict(line.split("=", 1) for line in lines if "=" in line)
        env[country].pop("JIT_CONFIG_DIR", None)  # the demo keeps its own token cache
    return Nodes(env, lambda country, up: set_link(state / "nodes" / country.lower(), up))


def main(argv: list[str] | None = None) -> int:
    from jitdev.stack import SERVICES, STATE, cli_env, tls_on

    args = argv if argv is not None else sys.argv[1:]
    env = {"JIT_CONFIG_DIR": tempfile.mkdtemp(prefix="jit-demo-")}
    if tls_on():  # `make run TLS=1`: the command trusts the profile's CA and uses its HTTPS and TLS URLs
        env |= cli_env()
    nodes = None
    if "--nodes" in args:
        if not (STATE / "nodes.json").exists():
            print("no federation runs here: start one with `make run NODES=nl,de,ie`", file=sys.stderr)
            return 1
        nodes = nodes_of_local_run(STATE)
    else:  # `jit admin` announces as the node's admin NATS user (each node's cli.env says so on a federation)
        env["JIT_NATS_CREDENTIALS_DIR"] = str(STATE / "nats-users")
    demo = Demo(subprocess_runner, env, nodes=nodes)
    try:
        demo.play([s.name for s in SERVICES])
    except DemoFailed as exc:
        print(f"\ndemo stopped: {exc}\n(is everything running? `make status`)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
