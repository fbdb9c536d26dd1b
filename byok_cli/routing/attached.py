"""Which planned attempts can carry a request's attachments (pure: no I/O).

A provider whose API takes no images or PDFs (its record's ``attachments``), a catalogued
model that reads none, or an API's documented size limits refuse them before anything is
sent: the first attempt with exit 24 (ATTACHMENT_REFUSED), a fallback by leaving it out of
the plan (listed under ``skipped``). A model the catalogue does not know is sent the
attachments, and its API decides, as for every other parameter.
"""

from __future__ import annotations

import datetime as dt

from ..catalog.curated import Catalog
from ..errors import ByokError, Code
from ..registry import Registry
from ..wire.attachments import Attachment, check_limits
from .resolve import Attempt, Plan

_NAMES = {"image": "images", "pdf": "PDFs"}


def refusal(attempt: Attempt, attachments: list[Attachment], catalog: Catalog,
            registry: Registry) -> ByokError | None:
    """Why ``attempt`` cannot carry ``attachments``, or None."""
    record = registry.require(attempt.provider)
    kinds = list(dict.fromkeys(a.kind for a in attachments))
    for kind in kinds:
        if kind not in record.attachments:
            return ByokError(Code.ATTACHMENT_REFUSED, f"{record.title}'s API takes no "
                             f"{_NAMES[kind]} (-a); nothing was sent",
                             provider=attempt.provider)
    model = catalog.get(attempt.model)
    if model is not None and model.provider == (record.catalog or record.name):
        for kind in kinds:
            if kind not in model.attachments:
                return ByokError(Code.ATTACHMENT_REFUSED, f"{model.id} reads no "
                                 f"{_NAMES[kind]} (-a); nothing was sent",
                                 provider=attempt.provider)
    try:
        check_limits(record.api, attempt.provider, attachments)
    except ByokError as err:
        return err
    return None


def fit(plan: Plan, attachments: list[Attachment], catalog: Catalog,
        registry: Registry) -> None:
    """Refuse attachments the first attempt cannot carry; drop fallbacks that cannot."""
    if not attachments:
        return
    why = refusal(plan.attempts[0], attachments, catalog, registry)
    if why is not None:
        today = dt.date.today()
        able = [m.id for m in catalog.models if not m.is_retired(today)
                and all(a.kind in m.attachments for a in attachments)]
        if why.hint is None:
            why.hint = ("choose a model that reads them, e.g. -m " + ", ".join(able[:4])
                        if able else "leave the attachment out")
        raise why
    kept = []
    for a in plan.attempts:
        why = refusal(a, attachments, catalog, registry)
        if why is None:
            kept.append(a)
            continue
        line = f"no {a.role.replace('_', ' ')} to {a.provider} {a.model}: {why.message}"
        if line not in plan.skipped:
            plan.skipped.append(line)
    plan.attempts = kept
