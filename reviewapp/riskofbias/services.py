"""Writes on risk of bias: a review adds a built-in tool as an extraction form.

Assessing, comparing and the consensus are the extraction services' (``extraction_save``,
``consensus_save``), which refuse a judgement departing from the algorithm without its reason.
"""

from __future__ import annotations

from django.db import transaction

from reviewapp.core.errors import ServiceError
from reviewapp.core.permissions import require
from reviewapp.extraction.models import ExtractionForm, FormVersion
from reviewapp.extraction.services import extraction_form_create
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership
from reviewapp.riskofbias.builtin import PER_RESULT, TOOL_CHOICES, tool_definition, tool_name


def rob_form_create(
    *, membership: Membership, tool: str, result: str = "", assessors: int = 2
) -> ExtractionForm:
    """A risk-of-bias form of one tool (for RoB 2, of one result), with its fixed version 1.

    Two assessors per study by default, as Cochrane asks for risk of bias.
    """
    require(membership, Capability.MANAGE_REVIEW)
    if tool not in TOOL_CHOICES:
        raise ServiceError("Choose one of the risk-of-bias tools.", field="tool")
    result = result.strip()
    if tool in PER_RESULT and not result:
        raise ServiceError(
            "RoB 2 assesses one result: name the outcome (and time point) it is for.",
            field="result",
        )
    name = f"{tool_name(tool)}: {result}" if result else tool_name(tool)
    with transaction.atomic():
        form = extraction_form_create(
            membership=membership, name=name[:200], extractors_required=assessors
        )
        form.tool, form.result = tool, result
        form.save(update_fields=["tool", "result", "updated_at"])
        FormVersion.objects.create(
            form=form, number=1, definition=tool_definition(tool), created_by=membership.user
        )
    return form
