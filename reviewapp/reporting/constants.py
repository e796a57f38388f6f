from django.db import models


class ManualPrismaField(models.TextChoices):
    """PRISMA 2020 boxes the app cannot know from its data; names follow the PRISMA2020 template.

    The other-methods arm (websites, organisations, citation searching) happens outside the app,
    so its whole flow is entered by hand; so are the studies of a previous version of the review.
    """

    PREVIOUS_STUDIES = "previous_studies", "Studies included in previous version of review"
    PREVIOUS_REPORTS = "previous_reports", "Reports of studies included in previous version"
    WEBSITE_RESULTS = "website_results", "Records identified from websites"
    ORGANISATION_RESULTS = "organisation_results", "Records identified from organisations"
    CITATIONS_RESULTS = "citations_results", "Records identified from citation searching"
    OTHER_SOUGHT = "other_sought_reports", "Other methods: reports sought for retrieval"
    OTHER_NOT_RETRIEVED = "other_notretrieved_reports", "Other methods: reports not retrieved"
    OTHER_ASSESSED = "other_assessed", "Other methods: reports assessed for eligibility"
    OTHER_EXCLUDED = "other_excluded", "Other methods: reports excluded"
    OTHER_STUDIES = "other_new_studies", "Other methods: new studies included"


# The reason shown for other-methods exclusions, which are entered as one number.
OTHER_EXCLUDED_REASON = "Excluded (entered by hand)"
