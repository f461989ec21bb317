"""The plan edited as code from the browser: preview a spec's changes, then apply exactly that.

The preview writes nothing. It hands the page the spec text's SHA-256 and the SHA-256 of the
launch's current export; applying refuses another text, or a launch that changed in between, and
then goes through import_launch_spec() (the one import path, which audits the text and its hash).
The applied text is also kept as a file in the `specs` storage, named by that hash.
"""

import hashlib
from dataclasses import dataclass

from django.db import transaction

from apps.launches.models import Launch
from apps.signoffs.models import Duty
from apps.signoffs.services import AssignmentInput, assign_role
from apps.specs.services import (
    ImportResult,
    export_launch_spec,
    import_launch_spec,
    store_spec_text,
)
from apps.specs.spec import SpecError, parse_spec
from apps.specs.spec_changes import SpecChanges, diff_specs

NEW_LAUNCH = ""  # the base SHA-256 of a preview that creates a launch
RESERVED_PAGES = frozenset({"import"})  # /launches/import/ is a page, not a launch


class SpecStale(Exception):
    """The spec or the launch is not what the preview showed (409)."""


@dataclass(frozen=True)
class Preview:
    text: str
    sha256: str
    base_sha256: str  # the current export's; NEW_LAUNCH for a new launch
    slug: str
    changes: SpecChanges


def spec_text(raw: bytes | str) -> str:
    """The spec as text with "\\n" line ends: a form posts it back with "\\r\\n"."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    return text.replace("\r\n", "\n")


def sha256_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def preview_spec(*, raw: bytes | str, launch: Launch | None) -> Preview:
    """Validate the spec for `launch` (None: a new launch) and list what applying it changes.

    Raises SpecError with every problem, each with its place; writes nothing.
    """
    spec = parse_spec(raw)  # also refuses non-UTF-8 and specs over MAX_SPEC_BYTES
    slug = spec["launch"]["slug"]
    _check_slug(slug, launch)
    text = spec_text(raw)
    if launch is None:
        return Preview(text, sha256_of(text), NEW_LAUNCH, slug, diff_specs(spec, None))
    launch.refuse_if_closed()  # a closed launch is read-only
    current = export_launch_spec(launch)
    changes = diff_specs(spec, parse_spec(current))
    return Preview(text, sha256_of(text), sha256_of(current), slug, changes)


def _check_slug(slug: str, launch: Launch | None) -> None:
    if launch is not None and slug != launch.slug:
        raise SpecError([f"launch.slug: {slug!r} is another launch (this page updates "
                         f"{launch.slug!r})"])  # fmt: skip
    if launch is None and slug in RESERVED_PAGES:
        raise SpecError([f"launch.slug: {slug!r} is reserved (a page of the portal)"])
    if launch is None and Launch.objects.filter(slug=slug).exists():
        raise SpecError([f"launch.slug: the launch {slug!r} exists already: update it from its "
                         "own page"])  # fmt: skip


def apply_spec(*, raw: str, sha256: str, base_sha256: str, launch: Launch | None,
               actor) -> ImportResult:  # fmt: skip
    """Apply the previewed spec, audited; raises SpecStale when the text or the launch changed.

    A new launch makes `actor` its launch admin and program manager, in the same transaction.
    """
    text = spec_text(raw)
    if sha256_of(text) != sha256:
        raise SpecStale("this is not the spec that was previewed: preview it again")
    store_spec_text(text.encode())  # outside the transaction: it may be a network write
    with transaction.atomic():
        _check_base(launch, base_sha256)
        result = import_launch_spec(raw=text, actor=actor)
        if (launch is None) != result.created or (launch and result.launch.pk != launch.pk):
            # Raised inside the transaction: the import rolls back.
            raise SpecStale("a launch with this slug was created since the preview")
        if result.created:
            for duty in (Duty.ADMIN, Duty.PROGRAM_MANAGER):
                assign_role(launch=result.launch, user=actor, what=AssignmentInput(duty=duty),
                            actor=actor)  # fmt: skip
    return result


def _check_base(launch: Launch | None, base_sha256: str) -> None:
    """The launch is as previewed: its row is locked, so two applies queue, the second stale."""
    if launch is None:
        if base_sha256 != NEW_LAUNCH:
            raise SpecStale("this preview was of an update, not of a new launch")
        return
    launch = Launch.objects.select_for_update().get(pk=launch.pk)
    launch.refuse_if_closed()
    if sha256_of(export_launch_spec(launch)) != base_sha256:
        raise SpecStale("the launch changed since the preview: preview the spec again")
