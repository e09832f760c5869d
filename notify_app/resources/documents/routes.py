"""The documents of an application (the repayment schedule as PDF and CSV): list and download.

The list takes the bearer token; each document in it comes with a signed ``url`` that downloads
it for a few minutes without one, so that a page can offer it as a plain link
(:mod:`notify_app.resources.documents.links`). The download takes that link or the bearer token.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response
from flask.views import MethodView
from marshmallow import fields

from common.web.blueprint import Blueprint, or_404
from common.web.context import current_caller, runtime
from notify_app import queries
from notify_app.resources.documents.links import DOCUMENT_LINK, signed

blp = Blueprint("documents", __name__, url_prefix="/notify/applications",
                description="Documents generated for an application: the repayment schedule (PDF, CSV).")

_LINK_PARAM = [{"name": "link", "in": "query", "schema": {"type": "string", "maxLength": 1024},
                "description": "The signature of the document's url in the list (instead of the Authorization "
                               "header; valid for LOANFLOW_DOCUMENT_LINK_SECONDS)."}]


class DocumentSchema(ma.Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "schedule_pdf or schedule_csv"})
    name = fields.String(attribute="filename")
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    created_at = fields.DateTime()
    url = fields.String(metadata={"description": "Downloads the document without a token until url_expires_at."})
    url_expires_at = fields.DateTime()


@blp.route("/<uuid:application_id>/documents")
class Documents(MethodView):
    @blp.response(200, DocumentSchema(many=True))
    @blp.applicant_or_staff
    def get(self, application_id: Any) -> Any:
        """List an application's documents (its owner or staff)

        Empty until the application is approved and the schedule has been generated. Each
        ``url`` is signed for the caller: it downloads the document without a token for
        ``LOANFLOW_DOCUMENT_LINK_SECONDS`` (300); list again for a fresh one.
        """
        caller = current_caller()
        return [signed(document, caller) for document in queries.documents(runtime(), str(application_id))]


@blp.route("/<uuid:application_id>/documents/<uuid:document_id>")
class DocumentFile(MethodView):
    @blp.doc(parameters=_LINK_PARAM, responses={"200": {"description": "The file.", "content": {
        "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        "text/csv": {"schema": {"type": "string"}}}}})
    @blp.applicant_or_staff(credential=DOCUMENT_LINK)
    def get(self, application_id: Any, document_id: Any) -> Response:
        """Download a document (its owner or staff)"""
        document = or_404(queries.document(runtime(), str(application_id), str(document_id)))
        return Response(document.content, mimetype=document.content_type, headers={
            "Content-Disposition": f'attachment; filename="{document.filename}"',
            "Cache-Control": "private, no-store",
        })
