"""Pure parsers for literature files: PubMed XML, MEDLINE, RIS, EndNote XML, CSV, BibTeX, Web of
Science, Ovid and Cochrane plain text, lists of PMIDs or DOIs.

Usage from an import service::

    from reviewapp.literature.parsers import (
        parse, ParsedRecord, ParseWarning, Rejection, FileUnreadable
    )

    with upload.open("rb") as fileobj:
        try:
            for item in parse(fileobj, filename=upload.name):
                if isinstance(item, Rejection):
                    ...  # item.position, item.line, item.field, item.reason
                elif isinstance(item, ParseWarning):
                    ...  # item.reason, item.position and item.line (None for the whole file)
                else:
                    ...  # item is a ParsedRecord
        except FileUnreadable as error:
            ...  # str(error) says why; items yielded before it are good

Every parser is a generator over a binary file object; nothing here imports Django. A parser
raises FileUnreadable and nothing else (see `records.guarded`); field lengths are capped in
`limits`.
"""

from .base import (
    AbstractSection,
    FileUnreadable,
    ParsedRecord,
    ParserFault,
    ParseWarning,
    Rejection,
)
from .bibtex import parse_bibtex
from .csvfile import parse_csv
from .detect import PARSERS, detect_format, parse
from .endnote_xml import parse_endnote_xml
from .idlist import IdList, parse_idlist
from .medline import parse_medline
from .pubmed_xml import parse_pubmed_xml
from .ris import parse_ris
from .tagged import parse_cochrane, parse_ovid, parse_refworks, parse_wos

__all__ = [
    "PARSERS",
    "AbstractSection",
    "FileUnreadable",
    "IdList",
    "ParseWarning",
    "ParsedRecord",
    "ParserFault",
    "Rejection",
    "detect_format",
    "parse",
    "parse_bibtex",
    "parse_cochrane",
    "parse_idlist",
    "parse_ovid",
    "parse_wos",
    "parse_csv",
    "parse_endnote_xml",
    "parse_medline",
    "parse_pubmed_xml",
    "parse_refworks",
    "parse_ris",
]
