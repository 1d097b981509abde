"""A consumer process for the delivery tests: processes events from JIT_TESTS with a handler whose
effect is not idempotent (one row per run), and, in "crash" mode, dies right after its transaction
commits and before it acks, as a killed process would. An optional last argument is the consumer's
``batch`` (events per transaction); an event of type ``jit.tests.v1.Refused`` is a poison message to the
handler (after it wrote its effect, which then must roll back).

"old" and "new" model a node upgraded after its peers: the "old" build cannot read an event of type
``jit.tests.v1.New`` (a poison message to it: set aside), the "new" one can, and first handles again what
was set aside (``retry_dead_letters``), printing what that did as JSON. The dead letters are sealed as a
service's are (under the KEK)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import asdict

from sqlalchemy import text

from jitlib import crypto, db, sealing
from jitlib.bus import Bus, EventConsumer, PoisonMessage, stream_for
from services.tasks.app import MIGRATIONS
from services.tasks.store import RUNTIME, Base

STREAM = stream_for("tests")


class CrashingConsumer(EventConsumer):
    async def _ack(self, msg):  # type: ignore[no-untyped-def]
        os._exit(17)  # the transaction has committed; the ack never leaves


async def main(nats_url: str, db_url: str, durable: str, mode: str, expected: int, batch: int) -> None:
    database = db.Database(db_url)
    sealing.install(database.info, Base.metadata, crypto.KekRing([crypto.Kek(bytes(range(32)))]))
    bus = Bus(nats_url, "consumer-child", streams=[STREAM])
    bus.start()
    await bus.wait_ready(30)

    def handler(session, envelope):  # type: ignore[no-untyped-def]
        session.execute(text("INSERT INTO effects (event_id) VALUES (:e)"), {"e": envelope.id})
        if envelope.type == "jit.tests.v1.Refused" or (mode == "old" and envelope.type == "jit.tests.v1.New"):
            raise PoisonMessage("refused by the handler")

    cls = CrashingConsumer if mode == "crash" else EventConsumer
    consumer = cls(
        bus,
        database,
        RUNTIME,
        durable=durable,
        stream=STREAM,
        filter_subject="jit.tests.>",
        handler=handler,
        ack_wait_seconds=2.0,
        max_deliver=3,
        batch=batch,
        retries_dead_letters=mode == "new",
    )
    if consumer.retries_dead_letters:
        print(json.dumps(asdict(await consumer.retry_dead_letters())), flush=True)
    consumer.start()
    for _ in range(300):
        done, dead = await database.read(
            lambda s: (
                s.scalar(text("SELECT count(*) FROM inbox WHERE consumer = :c"), {"c": durable}),
                s.scalar(text("SELECT count(*) FROM dead_letters WHERE consumer = :c"), {"c": durable}),
            )
        )
        if (done or 0) + (dead or 0) >= expected:
            break
        await asyncio.sleep(0.1)
    await consumer.stop()
    await bus.close()
    database.dispose()


if __name__ == "__main__":
    nats_url, db_url, durable, mode, expected = sys.argv[1:6]
    batch = int(sys.argv[6]) if len(sys.argv) > 6 else 1
    db.migrate(MIGRATIONS, db_url)
    asyncio.run(main(nats_url, db_url, durable, mode, int(expected), batch))
