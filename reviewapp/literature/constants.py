from django.db import models


class SourceKind(models.TextChoices):
    """The PRISMA 2020 arm a search or import counts in."""

    DATABASE = "database", "Database"
    REGISTER = "register", "Register (e.g. ClinicalTrials.gov)"
    OTHER = "other", "Other method (websites, organisations, citation searching)"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    # Only exports expire: their file is deleted after EXPORT_KEEP_DAYS (extraction.services).
    EXPIRED = "expired", "Expired"


class ImportFormat(models.TextChoices):
    PUBMED_XML = "pubmed-xml", "PubMed XML"
    MEDLINE = "medline", "MEDLINE / .nbib"
    RIS = "ris", "RIS"
    CSV = "csv", "CSV"
    ENDNOTE_XML = "endnote-xml", "EndNote XML"
    BIBTEX = "bibtex", "BibTeX"
    WOS = "wos", "Web of Science plain text"
    OVID = "ovid", "Ovid tagged"
    COCHRANE = "cochrane", "Cochrane Library plain text"
    REFWORKS = "refworks", "RefWorks tagged"
    IDLIST = "idlist", "List of PMIDs or DOIs"


class DuplicateRule(models.TextChoices):
    PMID = "pmid", "Same PMID"
    DOI = "doi", "Same DOI"
    TITLE_YEAR_AUTHOR = "title_year_author", "Same title, year and first author"
    FUZZY_TITLE = "fuzzy_title", "Similar title"
    DOI_OTHER_PMID = "doi_other_pmid", "Same DOI, different PMIDs"
    MANUAL = "manual", "Marked by a reviewer"


class DuplicateStatus(models.TextChoices):
    AUTOMATIC = "automatic", "Automatic"
    NEEDS_REVIEW = "needs_review", "Needs a reviewer's confirmation"
    CONFIRMED = "confirmed", "Confirmed by a reviewer"


class LivingSchedule(models.TextChoices):
    """How often a stored search re-runs by itself (a living review), from its last good run."""

    OFF = "off", "Off"
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
