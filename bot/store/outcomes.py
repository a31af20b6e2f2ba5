"""What a send's outcome writes, on both databases: accepted (the card counts for `once_per`
and may start a billed conversation), tried again, given up, its delivery statuses, and the
echo of a message a person sent from our account. Runs inside the caller's transaction, like
bot/store/operations.py."""

from __future__ import annotations

from bot.store.operations import CONVERSATION_S, STATUS_RANK, Connection, record_event


async def mark_sent(
    conn: Connection,
    item_id: int,
    unique: str | None,
    now: float,
    window_left_min: float | None,
    warning: str | None,
) -> None:
    row = await conn.fetchrow(
        "UPDATE outbox SET state = 'sent', gateway_unique = ?, finished_at = ?, error = NULL, "
        "warning = ?, claimed_by = NULL, lease_until = NULL WHERE id = ? RETURNING client, rule",
        unique,
        now,
        warning,
        item_id,
    )
    if row is None:
        return
    client = row["client"]
    await _count_card(conn, client, row["rule"], now)
    await start_conversation(conn, client, now)
    if window_left_min is not None:
        await conn.execute(
            "UPDATE clients SET gateway_window_end = ?, gateway_window_reported_at = ? "
            "WHERE client = ?",
            now + window_left_min * 60,
            now,
            client,
        )


async def _count_card(conn: Connection, client: str, rule: str, now: float) -> None:
    """The gateway has (or may have) this rule's card: `once_per` counts it from now on."""
    await conn.execute(
        "INSERT INTO client_replies(client, rule, last_sent_at) VALUES (?, ?, ?) "
        "ON CONFLICT (client, rule) DO UPDATE SET last_sent_at = "
        f"{conn.dialect.greatest}(client_replies.last_sent_at, excluded.last_sent_at)",
        client,
        rule,
        now,
    )


async def start_conversation(conn: Connection, client: str, now: float) -> None:
    """Something left our account for `client` at `now`: a 24 h conversation (what the business
    is billed for) starts unless one is running."""
    # Locked, so two instances finishing sends to one client start one conversation, not two.
    started = await conn.fetchval(
        f"SELECT conversation_started_at FROM clients WHERE client = ?{conn.dialect.for_update}",
        client,
    )
    if started is None or now - started >= CONVERSATION_S:
        await conn.execute(
            "UPDATE clients SET conversation_started_at = ? WHERE client = ?", now, client
        )
        await conn.execute(
            "INSERT INTO conversations(client, started_at) VALUES (?, ?)", client, now
        )


async def mark_retry(
    conn: Connection, item_id: int, error: str, next_attempt_at: float, uncertain: bool
) -> None:
    await conn.execute(
        "UPDATE outbox SET state = 'pending', error = ?, next_attempt_at = ?, claimed_by = NULL, "
        f"lease_until = NULL, possible_duplicate = {conn.dialect.greatest}(possible_duplicate, ?) "
        "WHERE id = ?",
        error,
        next_attempt_at,
        int(uncertain),
        item_id,
    )


async def mark_final(
    conn: Connection,
    item_id: int,
    state: str,
    code: str,
    reason: int | None,
    error: str,
    now: float,
) -> None:
    uncertain = state == "uncertain"
    row = await conn.fetchrow(
        "UPDATE outbox SET state = ?, error_code = ?, reason = ?, error = ?, finished_at = ?, "
        "claimed_by = NULL, lease_until = NULL, "
        f"possible_duplicate = {conn.dialect.greatest}(possible_duplicate, ?) "
        "WHERE id = ? RETURNING client, rule",
        state,
        code,
        reason,
        error,
        now,
        int(uncertain),
        item_id,
    )
    if row is not None and uncertain:
        # Never sent again, but the gateway may have it: `once_per` counts it as sent.
        await _count_card(conn, row["client"], row["rule"], now)


async def record_status(conn: Connection, unique: str, status: str, now: float) -> bool:
    row = await conn.fetchrow(
        "SELECT id, delivery_status FROM outbox WHERE gateway_unique = ? "
        f"LIMIT 1{conn.dialect.for_update}",
        unique,
    )
    if row is None:
        return False
    if STATUS_RANK.get(status, 0) >= STATUS_RANK.get(row["delivery_status"] or "", 0):
        await conn.execute(
            "UPDATE outbox SET delivery_status = ?, delivery_at = ? WHERE id = ?",
            status,
            now,
            row["id"],
        )
    return True


async def record_outgoing(
    conn: Connection, unique: str, client: str, now: float, pause_until: float
) -> bool:
    if await conn.fetchval("SELECT 1 FROM outbox WHERE gateway_unique = ? LIMIT 1", unique):
        return False  # the gateway echoing the bot's own send
    # The echo of a send can overtake the gateway's answer to it: a send in flight to this
    # client means the echo is most likely ours, not a person's.
    if await conn.fetchval(
        "SELECT 1 FROM outbox WHERE (client = ? OR address = ?) AND state = 'sending' LIMIT 1",
        client,
        client,
    ):
        return False
    greatest = conn.dialect.greatest
    changed = await conn.execute(
        f"UPDATE clients SET paused_until = {greatest}(COALESCE(paused_until, 0), ?) "
        "WHERE client = ? OR address = ?",
        pause_until,
        client,
        client,
    )
    if changed == 0:
        # Another instance may be storing this client's first message right now.
        await conn.execute(
            "INSERT INTO clients(client, address, paused_until) VALUES (?, ?, ?) "
            f"ON CONFLICT (client) DO UPDATE SET paused_until = {greatest}("
            "COALESCE(clients.paused_until, 0), excluded.paused_until)",
            client,
            client,
            pause_until,
        )
    # A person's message is billed like the bot's: it starts a conversation unless one runs.
    # Counted on the row the client's own messages use (keyed by from_id, the number its
    # address), not on a row keyed by the bare number, when both exist.
    owner = await conn.fetchval(
        "SELECT client FROM clients WHERE client = ? OR address = ? "
        "ORDER BY CASE WHEN client = ? THEN 1 ELSE 0 END LIMIT 1",
        client,
        client,
        client,
    )
    await start_conversation(conn, owner or client, now)
    await record_event(conn, "handoff", client, now)
    return True
