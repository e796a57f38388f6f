from django.db import models


class ExtractionKind(models.TextChoices):
    INDIVIDUAL = "individual", "One extractor's version"
    CONSENSUS = "consensus", "Consensus (final)"


class ExportKind(models.TextChoices):
    EXTRACTION_CSV = "extraction-csv", "Extracted data (CSV, one row per study and outcome)"
    EXTRACTION_XLSX = "extraction-xlsx", "Extracted data (XLSX, one sheet per form section)"
    EXTRACTION_JSON = "extraction-json", "Extracted data (JSON)"
    DECISIONS_LONG = "decisions-long", "Records and decisions (CSV, one row per decision)"
    RECORDS_WIDE = "records-wide", "Records and decisions (CSV, one row per record)"
    INCLUDED_RIS = "included-ris", "Included studies (RIS)"


EXTRACTION_EXPORTS = frozenset(
    {ExportKind.EXTRACTION_CSV, ExportKind.EXTRACTION_XLSX, ExportKind.EXTRACTION_JSON}
)

# Keyed by str so a kind read back from a CharField (a plain str) looks its file up too.
EXPORT_FILE: dict[str, tuple[str, str]] = {
    ExportKind.EXTRACTION_CSV: ("extraction.csv", "text/csv; charset=utf-8"),
    ExportKind.EXTRACTION_XLSX: (
        "extraction.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ExportKind.EXTRACTION_JSON: ("extraction.json", "application/json"),
    ExportKind.DECISIONS_LONG: ("decisions.csv", "text/csv; charset=utf-8"),
    ExportKind.RECORDS_WIDE: ("records.csv", "text/csv; charset=utf-8"),
    ExportKind.INCLUDED_RIS: ("included-studies.ris", "application/x-research-info-systems"),
}


class ExportWhich(models.TextChoices):
    FINAL = "final", "Final data (the consensus; a single extractor's submitted entry)"
    ALL = "all", "Every extractor's version and the consensus"


# Exports with more rows than this are written by a background worker; smaller ones are sent at
# once. Counted as rows the file will have (extraction entries, decisions or records).
EXPORT_BACKGROUND_ROWS = 2000
