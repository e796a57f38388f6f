"""Data extraction: versioned forms as data, entries, dual extraction and consensus, downloads.

Decisions worth knowing (issue 6):

* Forms (``schema.py``): a definition is JSON; every change saved from the builder is a new
  immutable FormVersion. Column names are made once from section + label, de-duplicated, and kept
  by later versions; a type change makes a new column. Exports take the union of every version's
  columns (a new version never moves an old column) and fill each row from its own version.
* Entries (``validation.py``): a draft is checked for types, ranges and plausibility; submitting
  also enforces required fields. A submitted individual entry is locked. Every save appends an
  ExtractionRevision; a save from a page showing an older revision is refused with a message.
* Dual extraction is blinded until both extractors have submitted (owners, admins, adjudicators
  and analysts are not blinded). The consensus (kind=consensus, decided_by) may be decided by the
  study's extractors or an adjudicator once the required entries are submitted; it is the final
  data. On a single-extractor form the submitted entry is final unless a consensus corrects it.
* Downloads (``exports.py``): one ``neutralise`` guards every CSV and XLSX text cell against
  formula injection. Exports of more than ``constants.EXPORT_BACKGROUND_ROWS`` (2,000) rows are
  written by a Celery worker under MEDIA_ROOT/exports/ and fetched by the member who asked.
* Screening decisions in downloads and the API: reviewers get only their own votes.
"""
