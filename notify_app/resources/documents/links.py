"""Signed document links: a download URL that works for a few minutes without a bearer token.

The document list gives each document a ``url`` carrying ``?link=…``: the caller who listed the
documents sealed with the document's id (:mod:`notify_app.sealed`), valid for
``LOANFLOW_DOCUMENT_LINK_SECONDS`` (300). A browser follows it as a plain link; a proxy that logs
it logs a credential that opens one document for minutes, never the applicant's token. A link
may be followed more than once within its life (a browser retrying a download); once it expires
(``401``, ``LINK_EXPIRED``) the list gives a new one. The applicant token behind it is checked
again when it is followed, so a revocation made since counts. The download also takes the
bearer token, as before.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import request

from common.kernel.clock import utcnow
from common.web.applicant_access import AccessRefused
from common.web.auth import Caller
from common.web.blueprint import Credential
from common.web.context import runtime
from notify_app.adapters.orm import Document
from notify_app.sealed import seal, unseal

_SALT = "loanflow.document-link"


def signed(document: Document, caller: Caller, now: datetime | None = None) -> dict[str, Any]:
    """``document``'s listing, with a ``url`` that ``caller`` can follow without a token until
    ``url_expires_at``."""
    settings, moment = runtime().settings, now or utcnow()
    link = seal(settings.secret_key, _SALT, caller, {"document": document.id}, moment)
    return {
        "id": document.id, "application_id": document.application_id, "kind": document.kind,
        "filename": document.filename, "content_type": document.content_type, "size": document.size,
        "sha256": document.sha256, "created_at": document.created_at,
        "url": f"/notify/applications/{document.application_id}/documents/{document.id}?link={link}",
        "url_expires_at": moment.replace(microsecond=0) + timedelta(seconds=settings.document_link_seconds),
    }


def _link_caller(view_kwargs: dict[str, Any]) -> Caller | None:
    """The caller a ``?link=`` stands for, if it is this document's and still valid.

    Raises:
      AccessRefused: ``LINK_INVALID`` (tampered with, or another document's) or ``LINK_EXPIRED``.
    """
    link = request.args.get("link", "")
    if not link:
        return None
    settings = runtime().settings
    opened = unseal(settings.secret_key, _SALT, link, timedelta(seconds=settings.document_link_seconds), utcnow(),
                    kind="LINK")
    if opened.purpose.get("document") != str(view_kwargs.get("document_id")):
        raise AccessRefused("LINK_INVALID", "This link is not valid.")
    return opened.caller


#: What opens a download besides the bearer token: its signed link.
DOCUMENT_LINK = Credential("a signed link (?link=)", _link_caller)
