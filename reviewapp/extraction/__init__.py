"""Data extraction: versioned forms as data, entries, dual extraction and consensus, downloads.

Decisions worth knowing (issue 6):

* Forms (``schema.py``): a definition is JSON; every change saved from the builder is a new
  immutable FormVersion. Column names are made once from section + label, de-duplicated, and kept
  by later versions; a type change makes a new column. Exports take the union of every version's
  columns (a new version never moves an old column) and fill each row from its own version.
* The builder (``builder.py``, pure) reads the page's cards in document order; blank cards are
  never saved, options that do not apply to a card's type are ignored, and every problem names
  its section and field. Starter forms (``starters.py``) are plain rows the same schema checks.
* Entries (``validation.py``): a draft is checked for types, ranges and plausibility; submitting
  also enforces required fields. A submitted individual entry is locked. Every save appends an
  ExtractionRevision; a save from a page showing an older revision is refused with a message.
* Dual extraction is blinded (``reviewapp.core.blinding``): a member whose own entry of a study
  is still due never sees the other extractor's, whatever their role; otherwise adjudicators and
  analysts see every entry, reviewers another's once both are submitted. The consensus (kind=consensus, decided_by) may be decided by the
  study's extractors or an adjudicator once the required entries are submitted; it is the final
  data. On a single-extractor form the submitted entry is final unless a consensus corrects it.
* Downloads (``exports.py``): one ``neutralise`` guards every CSV and XLSX text cell against
  formula injection. Exports of more than ``constants.EXPORT_BACKGROUND_ROWS`` (2,000) rows are
  written by a Celery worker under MEDIA_ROOT/exports/ and fetched by the member who asked.
* Screening decisions in downloads, background exports and the API follow the same blinding
  rule as the screening pages (``reviewapp.core.blinding``): no member sees a vote on a record
  where their own vote is still due.
"""
