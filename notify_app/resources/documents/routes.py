"""The documents of an application (the repayment schedule as PDF and CSV): list and download.

Downloads accept the token as ``?token=`` too, so that a link in a page or an e-mail works in a
browser; our servers keep no access log, and ``common.kernel.logs`` scrubs tokens from any log line.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response
from flask.views import MethodView
from marshmallow import fields

from common.web.blueprint import Blueprint, or_404
from common.web.context import runtime
from notify_app import queries
from notify_app.adapters.orm import Document

blp = Blueprint("documents", __name__, url_prefix="/notify/applications",
                description="Documents generated for an application: the repayment schedule (PDF, CSV).")

_TOKEN_PARAM = [{"name": "token", "in": "query", "schema": {"type": "string"},
                 "description": "The access token, for plain links (instead of the Authorization header)."}]


class DocumentSchema(ma.Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "schedule_pdf or schedule_csv"})
    name = fields.String(attribute="filename")
    content_type = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    created_at = fields.DateTime()
    url = fields.Method("_url")

    def _url(self, document: Document) -> str:
        return f"/notify/applications/{document.application_id}/documents/{document.id}"


@blp.route("/<uuid:application_id>/documents")
class Documents(MethodView):
    @blp.response(200, DocumentSchema(many=True))
    @blp.doc(parameters=_TOKEN_PARAM)
    @blp.applicant_or_staff(query_token=True)
    def get(self, application_id: Any) -> Any:
        """List an application's documents (its owner or staff)

        Empty until the application is approved and the schedule has been generated.
        """
        return queries.documents(runtime(), str(application_id))


@blp.route("/<uuid:application_id>/documents/<uuid:document_id>")
class DocumentFile(MethodView):
    @blp.doc(parameters=_TOKEN_PARAM, responses={"200": {"description": "The file.", "content": {
        "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        "text/csv": {"schema": {"type": "string"}}}}})
    @blp.applicant_or_staff(query_token=True)
    def get(self, application_id: Any, document_id: Any) -> Response:
        """Download a document (its owner or staff)"""
        document = or_404(queries.document(runtime(), str(application_id), str(document_id)))
        return Response(document.content, mimetype=document.content_type, headers={
            "Content-Disposition": f'attachment; filename="{document.filename}"',
            "Cache-Control": "private, no-store",
        })
