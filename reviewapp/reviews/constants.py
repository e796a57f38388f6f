from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    REVIEWER = "reviewer", "Reviewer"
    ANALYST = "analyst", "Analyst (read and export only)"


# What each role may do. Views ask for a capability, never for a list of roles, so that the rules
# live in one place.
class Capability(models.TextChoices):
    VIEW = "view"
    EXPORT = "export"
    SCREEN = "screen"
    EXTRACT = "extract"
    ADJUDICATE = "adjudicate"
    MANAGE_REVIEW = "manage_review"  # settings, criteria, reasons, imports
    ANALYSE = "analyse"  # create and run meta-analyses
    ADD_MEMBERS = "add_members"
    MANAGE_MEMBERS = "manage_members"  # change or remove roles


ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(Capability.values),
    Role.ADMIN: frozenset(Capability.values) - {Capability.MANAGE_MEMBERS},
    Role.REVIEWER: frozenset(
        {Capability.VIEW, Capability.EXPORT, Capability.SCREEN, Capability.EXTRACT}
    ),
    # Analysts read, export and pool: an analysis writes only its own results, never the data.
    Role.ANALYST: frozenset({Capability.VIEW, Capability.EXPORT, Capability.ANALYSE}),
}
