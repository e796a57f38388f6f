"""Writes on reporting: the PRISMA boxes entered by hand, kept with who entered them and when."""

from django.db import transaction

from reviewapp.audit.constants import Action
from reviewapp.audit.services import Target, audit_record
from reviewapp.core.errors import ServiceError
from reviewapp.core.permissions import require
from reviewapp.reporting.constants import ManualPrismaField
from reviewapp.reporting.models import PrismaManualCount
from reviewapp.reviews.constants import Capability
from reviewapp.reviews.models import Membership


@transaction.atomic
def prisma_manual_set(
    *, membership: Membership, values: dict[str, int | None], note: str = ""
) -> list[PrismaManualCount]:
    """Record hand-entered values for the boxes given; unchanged values add no entry.

    Entries are appended, never overwritten: the latest per box counts and the rest is history.
    """
    require(membership, Capability.MANAGE_REVIEW)
    from reviewapp.reporting.selectors import manual_counts_latest

    latest = manual_counts_latest(membership.review)
    added = []
    for field, value in values.items():
        if field not in ManualPrismaField.values:
            raise ServiceError(f"'{field}' is not a box entered by hand.", field=field)
        if value is None:
            continue
        if not isinstance(value, int) or value < 0:
            raise ServiceError(
                f"{ManualPrismaField(field).label} must be a whole number of 0 or more.",
                field=field,
            )
        if field in latest and latest[field].value == value:
            continue
        audit_record(
            review=membership.review,
            actor=membership,
            action=Action.PRISMA_BOX_CHANGED,
            target=Target("prisma_box", field, ManualPrismaField(field).label),
            before={"value": latest[field].value if field in latest else None},
            after={"value": value, "note": note[:300]},
        )
        added.append(
            PrismaManualCount.objects.create(
                review=membership.review,
                field=field,
                value=value,
                note=note[:300],
                entered_by=membership.user,
            )
        )
    return added
