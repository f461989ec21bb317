"""Rendered gate rows, cached per launch and version (issue 21: a page's cost must not grow with
its launch's gates).

A launch's version is a counter in the cache (from a random start), moved on by bump() whenever
what a row shows may have changed, by the code that writes it: apps/gates/services.py for a
measurement (ingest, poll, attestation) and the status change it makes, and any waiver write;
apps/specs/services.py for a spec import and an activity update; portal/admin.py for an admin
change. Each fragment names what it is drawn from (GATES, STATUS, HISTORY or PLAN below), so that a
reading, say, does not throw away the drawn plan, the forecast or another gate's page. A fragment
is kept under the launch and its variant (filters, sort) with the version it was drawn under,
which a request reads with the current version in one round trip, and carries the moment it
goes stale by time alone (evidence older than max_age, a waiver that ends); relative times are
written as <time datetime> and told relative in the browser (static/js/live.js), so that a cached
row does not say "3 minutes ago" for an hour.

A reading that changes no status says which gates it read (bump(gates=...)); where the cache
counts atomically (Redis), the list of gates kept (of an earlier version, up to REACH versions
back) is then drawn again for the gates read since alone (fragment(update=...),
updated_by_gate), instead of loading every gate.
"""

import functools
import hashlib
import pickle
import secrets
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.db import transaction
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

FRAGMENT_SECONDS = 300  # a fragment nobody asks for again leaves the cache after this
WAIVER_WARNING = timedelta(hours=48)  # Gate.waiver_warning's "ends within 48 hours"


# What a fragment is drawn from; each has its own version per launch, bumped by the writes that
# change it: GATES, anything a gate's row shows (its newest reading, status, waiver, rule);
# STATUS, the gates' statuses, waivers and rules alone (a reading that changes no status leaves
# it); HISTORY, what a gate's page draws from its own measurements (kept under the gate's newest
# one, so this version moves only with a late reading or a change of rule); PLAN, the phases,
# activities and sequence.
GATES, STATUS, HISTORY, PLAN = "gate-rows", "gate-status", "gate-history", "plan-rows"
A_GATE = (GATES, STATUS)  # a waiver, a status change
EVERYTHING = (GATES, STATUS, HISTORY, PLAN)  # a spec import, an admin change, a write around


def _version_key(launch_id: int, drawn_from: str = GATES) -> str:
    return f"{drawn_from}:version/2:{launch_id}"


def _changed_key(launch_id: int, kept_version: int) -> str:
    return f"{GATES}:changed:{launch_id}:{kept_version}"


# The versions a page read at once (read_once()): {(launch id, drawn_from): version}.
_read: ContextVar[dict | None] = ContextVar("rows_read", default=None)


@contextmanager
def read_once(launch_id: int, drawn_from: Iterable[str]):
    """Within: version() of the launch's `drawn_from` versions as read on entry, all in one cache
    round trip, for a page drawing several fragments of one launch (the overview: five). A bump
    inside forgets them."""
    keys = {name: _version_key(launch_id, name) for name in drawn_from}
    found = cache.get_many(list(keys.values()))
    read = {(launch_id, name): found[key] for name, key in keys.items() if key in found}
    token = _read.set(read)
    try:
        yield
    finally:
        _read.reset(token)


def version(launch_id: int, drawn_from: str = GATES) -> int:
    """The launch's current version: a counter that bump() moves on by one, from a random start
    when the cache has none (never an old one, so never a fragment kept before it was lost)."""
    read = _read.get()
    if read is not None and (launch_id, drawn_from) in read:
        return read[(launch_id, drawn_from)]
    key = _version_key(launch_id, drawn_from)
    found = cache.get(key)
    if found is None:
        cache.add(key, secrets.randbelow(2**62), None)
        found = cache.get(key)
    return found


def bump(launch_id: int, drawn_from: tuple[str, ...] = A_GATE, *, gates=None) -> None:
    """What the launch's fragments drawn from each of `drawn_from` show may have changed: every
    one of them is stale. `gates` (ids): only what those gates show changed, none of them
    changed its status, and no gate was added or retired; a fragment drawn from GATES may then
    be drawn again from the one kept under the version before, for those gates alone (see
    fragment(update=...)).

    At once, and again when the transaction commits: a page rendered in between (from the data
    before the commit) is kept under a version nobody asks for after the commit.
    """

    linked = gates is not None and _counts_atomically()
    read = _read.get()
    if read is not None:  # read_once(): what was read before this write is not current
        read.clear()

    def renew() -> None:
        if isinstance(caches["default"], RedisCache):  # the same steps, in one round trip
            _renew_on_redis(launch_id, drawn_from, gates if linked else None)
            return
        for name in drawn_from:
            moved = _next_version(launch_id, name)
            if name == GATES and linked:
                cache.set(_changed_key(launch_id, moved), frozenset(gates), FRAGMENT_SECONDS)

    renew()
    transaction.on_commit(renew)


def _counts_atomically() -> bool:
    """Whether the cache moves a counter in one step (Redis; one process's memory), so that two
    bumps never get the same version: only then may a version name the gates it changed. The
    database cache reads and writes (two bumps may meet on one version, each naming its own
    gates): there every bump draws everything again."""
    return isinstance(caches["default"], RedisCache | LocMemCache)


# bump()'s renew() on Redis as one script (one round trip, where the steps took three per
# version): each version key (KEYS) gets its random start (ARGV[i]) when Redis has none, as
# _next_version() does, then moves on by one; with `linked` (ARGV[n+1], GATES's place among
# the keys, 0 for none), the gates changed (ARGV[n+3], pickled as Django's cache stores them)
# are kept under the version GATES reached (ARGV[n+2] + version: _changed_key()'s cache key)
# for ARGV[n+4] seconds.
_RENEW = """
local n = #KEYS
local reached = {}
for i, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 0 then redis.call('SET', key, ARGV[i]) end
  redis.call('INCR', key)
  reached[i] = redis.call('GET', key)  -- as text: a Lua number would round a 62-bit version
end
local linked = tonumber(ARGV[n + 1])
if linked > 0 then
  redis.call('SET', ARGV[n + 2] .. reached[linked], ARGV[n + 3], 'EX', ARGV[n + 4])
end
"""


def _renew_on_redis(launch_id: int, drawn_from: tuple[str, ...], gates) -> None:
    """renew()'s steps in one call of _RENEW."""
    keys = [cache.make_and_validate_key(_version_key(launch_id, name)) for name in drawn_from]
    starts = [secrets.randbelow(2**62) for _ in drawn_from]
    linked = drawn_from.index(GATES) + 1 if gates is not None and GATES in drawn_from else 0
    changed = cache.make_and_validate_key(_changed_key(launch_id, 0)).removesuffix("0")
    payload = pickle.dumps(frozenset(gates or ()), pickle.HIGHEST_PROTOCOL)
    client = cache._cache.get_client(write=True)  # Django's Redis client (redis-py)
    args = [*starts, linked, changed, payload, FRAGMENT_SECONDS]
    _renew_script()(keys=keys, args=args, client=client)


@functools.cache
def _renew_script():
    """_RENEW as redis-py runs it (by its sha1; loaded when Redis does not know it), made once
    per process: each call names the client it runs on."""
    return cache._cache.get_client(write=True).register_script(_RENEW)


def _next_version(launch_id: int, drawn_from: str) -> int:
    key = _version_key(launch_id, drawn_from)
    if not _counts_atomically():  # read, then written with no expiry (incr() would set one)
        moved = (cache.get(key) or secrets.randbelow(2**62)) + 1
        cache.set(key, moved, None)
        return moved
    try:
        return cache.incr(key)  # in one step: each bump its own version
    except ValueError:  # none in the cache (lost, or never asked for)
        cache.add(key, secrets.randbelow(2**62), None)
        return cache.incr(key)


def fragment(
    launch_id: int,
    variant: str,
    now: datetime,
    render: Callable,
    drawn_from: str = GATES,
    *,
    update: Callable | None = None,
):
    """The fragment of `variant` (the filters, or a role's scope) of the launch's current version
    of what it is `drawn_from`.

    `render()` returns (html, stale_at): the markup (or a dict of markups and the small values
    they were drawn with) and the moment it goes stale by time alone (None: never). It is called
    only when the cache has no fresh fragment. `update(kept, gates)` (GATES only) may draw it
    from the one kept under an earlier version when every bump since named the gates it changed
    (bump(gates=...)): it returns (html, stale_at), or None to have it rendered.

    Each variant has one slot in the cache, holding the newest fragment drawn for it and the
    version it was drawn under: the version and the slot are read in one round trip, and the
    fragment is used only under the version it was drawn under (or, drawn from GATES, updated
    from it for the gates read since).
    """
    slot = _slot_key(drawn_from, launch_id, variant)
    current, kept = _version_and(launch_id, drawn_from, slot)
    if kept is not None and kept[0] == current and _fresh(kept[1:], now):
        return kept[1]
    linked = update is not None and drawn_from == GATES and _counts_atomically()  # else no links
    drawn = None
    if linked and kept is not None and _fresh(kept[1:], now):
        changed = _changed_since(launch_id, kept[0], current)
        drawn = update(kept[1], changed) if changed is not None else None
    html, stale_at = drawn if drawn is not None else render()
    cache.set(slot, (current, html, stale_at), FRAGMENT_SECONDS)
    return html


def _version_and(launch_id: int, drawn_from: str, slot: str) -> tuple[int, tuple | None]:
    """version(), and what the cache keeps under `slot`: one round trip (or the slot alone when
    read_once() has the version)."""
    read = _read.get()
    if read is not None and (launch_id, drawn_from) in read:
        return read[(launch_id, drawn_from)], cache.get(slot)
    key = _version_key(launch_id, drawn_from)
    found = cache.get_many([key, slot])
    current = found.get(key)
    return (current if current is not None else version(launch_id, drawn_from)), found.get(slot)


REACH = 512  # versions fragment() reaches back over for a kept fragment to update


def _slot_key(drawn_from: str, launch_id: int, variant: str) -> str:
    """Where fragment() keeps the newest fragment of `variant`, with its version."""
    return _kept_key(drawn_from, "slot", launch_id, variant)


def _changed_since(launch_id: int, kept_version: int, current: int) -> set | None:
    """The gates changed since `kept_version`, when every version since then, up to REACH of
    them, names the gates it changed; otherwise None. One cache round trip."""
    if not 0 < current - kept_version <= REACH:
        return None
    links = [_changed_key(launch_id, v) for v in range(kept_version + 1, current + 1)]
    found = cache.get_many(links)
    if len(found) != len(links):
        return None  # a bump that did not say which gates, or one the cache lost
    return set().union(*found.values())


def _fragment_key(drawn_from: str, launch_id: int, kept_version: int, variant: str) -> str:
    return _kept_key(drawn_from, launch_id, kept_version, variant)


def _kept_key(*parts) -> str:
    """The cache key of what fragment() keeps: its parts hashed (a variant is any text)."""
    name = ":".join(str(part) for part in parts)
    return f"kept:{hashlib.sha256(name.encode()).hexdigest()[:32]}"


def _fresh(found, now: datetime) -> bool:
    """Whether a kept (value, stale_at) is there and not stale by time."""
    return found is not None and (found[1] is None or now < found[1])


def versions(launch_ids: Iterable[int], drawn_from: str = GATES) -> dict[int, str]:
    """version() of several launches, in one cache round trip when the cache has them all."""
    found = cache.get_many([_version_key(pk, drawn_from) for pk in launch_ids])
    return {pk: found.get(_version_key(pk, drawn_from)) or version(pk, drawn_from)
            for pk in launch_ids}  # fmt: skip


def fragments(
    launch_ids: list[int],
    variant: str,
    now: datetime,
    render_many: Callable,
    drawn_from: str = GATES,
    *,
    each: dict[int, object] | None = None,
) -> dict:
    """fragment() of `variant` for several launches at once, in two cache round trips whatever
    their number: `render_many(ids)` returns {id: (value, stale_at)} for the launches whose
    fragment the cache has not (fresh), and is called once, or not at all. `each` adds a part
    of its own to each launch's variant (what else it was drawn from, such as its audit head)."""
    each = each or {}
    keys = {pk: _fragment_key(drawn_from, pk, kept_version, f"{variant}:{each.get(pk, '')}")
            for pk, kept_version in versions(launch_ids, drawn_from).items()}  # fmt: skip
    found = cache.get_many(list(keys.values()))
    out, missing = {}, []
    for pk, key in keys.items():
        if _fresh(found.get(key), now):
            out[pk] = found[key][0]
        else:
            missing.append(pk)
    if missing:
        drawn = render_many(missing)
        cache.set_many({keys[pk]: drawn[pk] for pk in missing}, FRAGMENT_SECONDS)
        out.update({pk: drawn[pk][0] for pk in missing})
    return out


def stale_at(gates: Iterable, now: datetime) -> datetime | None:
    """The first moment after `now` at which a gate's status or waiver warning changes without
    any write: its evidence passes max_age, its waiver ends or comes within 48 hours of it."""
    moments = []
    for gate in gates:
        if gate.last_evidence_at is not None:
            moments.append(gate.last_evidence_at + gate.max_age)
        expires = getattr(gate, "waiver_expires_at", None)
        if expires is not None:
            moments += [expires, expires - WAIVER_WARNING]
    return min((m for m in moments if m > now), default=None)


def gate_index(shown: list, loaded: list, now: datetime) -> dict:
    """What a kept list of gates needs to be drawn again for some of them alone
    (updated_by_gate): per item, its gate, the status it shows and when that runs out by time;
    and the first moment a gate it does not show (`loaded`, not `shown`) changes status."""
    showing = {gate.pk for gate in shown}
    hidden = [gate for gate in loaded if gate.pk not in showing]
    return {"index": [(gate.pk, gate.status, stale_at([gate], now)) for gate in shown],
            "hidden_until": stale_at(hidden, now)}  # fmt: skip


def updated_by_gate(
    kept: dict, changed: set, loaded: list, shown: list, now: datetime, draw: Callable, items: str
) -> tuple[dict, datetime | None] | None:
    """A list of gates kept under an earlier version (kept[items], with gate_index()'s keys),
    with the items of the gates `changed` since drawn again by `draw(gates)`: `loaded` are
    those of them its filters take (each with its status now), `shown` those it shows. None
    (draw it whole) when one of them joins or leaves the list or shows another status."""
    place = {pk: at for at, (pk, _, _) in enumerate(kept["index"])}
    showing = {gate.pk: gate for gate in shown}
    for pk in changed:
        gate = showing.get(pk)
        if (gate is None) != (pk not in place):
            return None
        if gate is not None and gate.status != kept["index"][place[pk]][1]:
            return None
    drawn, index = list(kept[items]), list(kept["index"])
    again = gate_index(shown, loaded, now)
    for gate, item, entry in zip(shown, draw(shown), again["index"], strict=True):
        drawn[place[gate.pk]], index[place[gate.pk]] = item, entry
    hidden_until = min((m for m in (kept["hidden_until"], again["hidden_until"]) if m),
                       default=None)  # fmt: skip
    moments = [m for _, _, m in index if m] + ([hidden_until] if hidden_until else [])
    updated = {**kept, items: drawn, "index": index, "hidden_until": hidden_until}
    return updated, min((m for m in moments if m > now), default=None)


def drawn_once(
    launch_id: int, items: list, shown: Callable, draw: Callable, *, name: str = "gate-rows"
) -> list[SafeString]:
    """Each item's markup (items: the launch's gates), drawn by `draw(item)` only when the one
    kept for it was drawn from other values than `shown(item)` (a tuple of plain values): for
    the parts of a page that change one at a time, such as a gate's row after a reading.

    The launch's markups of one `name` (the gates page's rows, the overview's) are one cache
    entry {item pk: (digest of what it shows, markup)}, at most one per item: one read, and one
    write when something was drawn, whatever the number of items (a concurrent draw may
    overwrite it: the loser's rows are only drawn again)."""
    key = f"drawn:{name}:{launch_id}"
    kept = cache.get(key) or {}
    markups, drawn = [], False
    for item in items:
        digest = hashlib.sha256(repr(shown(item)).encode()).hexdigest()[:32]
        found = kept.get(item.pk)
        if found is None or found[0] != digest:
            found = kept[item.pk] = (digest, draw(item))
            drawn = True
        markups.append(mark_safe(found[1]))  # noqa: S308 - drawn by our templates
    if drawn:
        cache.set(key, kept, FRAGMENT_SECONDS)
    return markups


# What a cached form carries in place of the person's CSRF token (letters only: the tag writes
# it as it is); with_csrf_token() puts the token of the request serving the page there.
CSRF_SLOT = "CsrfTokenOfThePersonServed"


def with_csrf_token(parts: dict, request) -> dict:
    """`parts` (a fragment's markups) with the request's CSRF token in place of CSRF_SLOT."""
    token = get_token(request)
    return {name: mark_safe(part.replace(CSRF_SLOT, token)) if isinstance(part, str) else part  # noqa: S308
            for name, part in parts.items()}  # fmt: skip


def render_parts(template: str, context: dict, parts: Iterable[str]) -> dict[str, SafeString]:
    """Each of `parts` of `template`, which renders the one its `part` names: a page's pieces
    drawn from the same gates, kept under one fragment."""
    return {
        part: mark_safe(render_to_string(template, {**context, "part": part}))  # noqa: S308
        for part in parts
    }
