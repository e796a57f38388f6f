from django.db import models


class Action(models.TextChoices):
    """What an audit event records. The codes are stable: filters, CSV files and scripts read them;
    a new kind of change gets a new code, an old code never changes meaning."""

    REVIEW_CREATED = "review.created", "Review created"
    REVIEW_SETTINGS_CHANGED = "review.settings.changed", "Review details changed"
    CRITERIA_CHANGED = "criteria.changed", "Eligibility criteria changed"
    KEYWORDS_CHANGED = "keywords.changed", "Highlighted keywords changed"
    STAGE_MODE_CHANGED = "stage.mode.changed", "Screening stage settings changed"
    STOPPING_RULE_DECLARED = "stopping_rule.declared", "Stopping rule declared"
    SCREENING_STOPPED = "screening.stopped", "Screening stopped by rule"
    MEMBER_ADDED = "member.added", "Member added"
    MEMBER_ROLE_CHANGED = "member.role.changed", "Member's role changed"
    MEMBER_REMOVED = "member.removed", "Member removed"
    INVITATION_SENT = "invitation.sent", "Invitation sent"
    INVITATION_ACCEPTED = "invitation.accepted", "Invitation accepted"
    INVITATION_REVOKED = "invitation.revoked", "Invitation revoked"
    REASON_ADDED = "exclusion_reason.added", "Exclusion reason added"
    REASON_RENAMED = "exclusion_reason.renamed", "Exclusion reason renamed"
    REASON_REMOVED = "exclusion_reason.removed", "Exclusion reason retired"
    REASON_RESTORED = "exclusion_reason.restored", "Exclusion reason restored"
    REASON_MOVED = "exclusion_reason.moved", "Exclusion reasons reordered"
    FORM_CREATED = "form.created", "Extraction form created"
    FORM_CHANGED = "form.changed", "Extraction form changed"
    FORM_VERSION_SAVED = "form.version.saved", "Extraction form fields saved"
    DUPLICATE_LINKED = "duplicate.linked", "Records marked as duplicates"
    DUPLICATE_CONFIRMED = "duplicate.confirmed", "Duplicate confirmed"
    DUPLICATE_UNLINKED = "duplicate.unlinked", "Duplicate link undone"
    DUPLICATE_PRIMARY = "duplicate.primary", "Duplicate's primary record changed"
    DUPLICATE_MERGED = "duplicate.merged", "Duplicates' metadata merged"
    DUPLICATE_MERGE_UNDONE = "duplicate.merge.undone", "Merge of duplicates undone"
    STUDY_LINKED = "study.linked", "Report linked to a study"
    PRISMA_BOX_CHANGED = "prisma.box.changed", "PRISMA box entered by hand"
    SEARCH_SCHEDULE_CHANGED = "search.schedule.changed", "Living search schedule changed"
    ANALYSIS_CREATED = "analysis.created", "Analysis created"
    ANALYSIS_CHANGED = "analysis.changed", "Analysis changed"
    ANALYSIS_DELETED = "analysis.deleted", "Analysis deleted"
    GRADE_ASSESSMENT_CHANGED = "grade.assessment.changed", "GRADE assessment settings changed"
    GRADE_DOMAIN_JUDGED = "grade.domain.judged", "GRADE domain judged"
    # Made by a site operator in the Django admin, outside the services.
    ADMIN_ADDED = "admin.added", "Added in the site admin"
    ADMIN_CHANGED = "admin.changed", "Changed in the site admin"
    ADMIN_DELETED = "admin.deleted", "Deleted in the site admin"


# The page's "What" filter: families of actions, by the start of their code.
ACTION_GROUPS: list[tuple[str, str]] = [
    ("review.", "Review details"),
    ("criteria.", "Eligibility criteria"),
    ("keywords.", "Keywords"),
    ("stage.", "Screening stage settings"),
    ("stopping_rule.", "Stopping rules"),
    ("screening.", "Screening stopped"),
    ("member.", "Team members"),
    ("invitation.", "Invitations"),
    ("exclusion_reason.", "Exclusion reasons"),
    ("form.", "Extraction forms"),
    ("duplicate.", "Duplicates"),
    ("study.", "Studies"),
    ("prisma.", "PRISMA boxes"),
    ("search.", "Living searches"),
    ("analysis.", "Analyses"),
    ("grade.", "GRADE certainty"),
    ("admin.", "Site admin"),
]
