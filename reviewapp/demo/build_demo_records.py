"""Write the demo review's bundled records: an illustrative PubMed XML export.

Run `python -m reviewapp.demo.build_demo_records` to regenerate data/natalizumab_demo_pubmed.xml.

Nothing here is a real citation. The file imitates what a PubMed search on stopping natalizumab in
relapsing-remitting MS returns (205 records, the count of Prosperini et al. 2019's search), so the
demo behaves like a real review: PMIDs are nine digits (real ones have eight), DOIs use Crossref's
test prefix 10.5555, and every abstract says it is illustrative. Deterministic: the same file every
time.
"""

from __future__ import annotations

import random
from pathlib import Path
from xml.sax.saxutils import escape

OUT = Path(__file__).with_name("data") / "natalizumab_demo_pubmed.xml"
N_RECORDS = 205
N_RELEVANT = 48  # candidates about stopping natalizumab; screening decides which are included
FIRST_PMID = 990_000_001

SURNAMES = [
    "Moretti",
    "Lindqvist",
    "Okafor",
    "Brennan",
    "Takahashi",
    "Novak",
    "Haddad",
    "Fischer",
    "Alvarez",
    "Kowalski",
    "Dubois",
    "Ivanova",
    "Sorensen",
    "Rossi",
    "Nakamura",
    "O'Neill",
    "Bergstrom",
    "Costa",
    "Petrov",
    "Walsh",
    "Jansen",
    "Marchetti",
    "Schmidt",
    "Rahman",
]
INITIALS = ["A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S", "T"]
JOURNALS = [
    "Illustrative Journal of Neurology",
    "Demo Multiple Sclerosis Reports",
    "Example Neuroimmunology",
    "Sample Therapeutic Advances in Neurology",
]
SWITCH_DRUGS = ["fingolimod", "rituximab", "ocrelizumab", "dimethyl fumarate", "alemtuzumab"]
SETTINGS = [
    "Italian",
    "Danish",
    "Swedish",
    "German",
    "French",
    "Spanish",
    "Canadian",
    "Australian",
    "Dutch",
    "Japanese",
    "Brazilian",
    "Polish",
    "Norwegian",
    "Belgian",
    "Austrian",
    "Czech",
]
DESIGNS = [
    "retrospective cohort",
    "prospective cohort",
    "multicentre observational study",
    "randomized controlled trial",
    "registry study",
]

RELEVANT_TITLES = [
    "Disease activity after natalizumab discontinuation in relapsing-remitting multiple sclerosis: a {design}",
    "Rebound of disease activity after stopping natalizumab: a {design}",
    "Switching from natalizumab to {drug}: relapse risk during the washout period",
    "Length of washout and return of relapses after natalizumab interruption: a {design}",
    "Predictors of relapse after natalizumab withdrawal in multiple sclerosis",
    "Natalizumab treatment interruption and MRI activity: a {design}",
    "Bridging with {drug} after natalizumab cessation: a {design}",
    "Stopping natalizumab during pregnancy: disease reactivation in women with multiple sclerosis",
]
IRRELEVANT_TITLES = [
    "Progressive multifocal leukoencephalopathy risk stratification in natalizumab-treated patients",
    "Anti-JC virus antibody index over time in patients receiving natalizumab",
    "Natalizumab in moderate to severe Crohn's disease: a {design}",
    "Pharmacokinetics of subcutaneous versus intravenous natalizumab",
    "Extended interval dosing of natalizumab and serum concentrations",
    "Cost-effectiveness of natalizumab compared with {drug} in multiple sclerosis",
    "Quality of life during natalizumab treatment: a {design}",
    "Alpha-4 integrin blockade and lymphocyte trafficking in the central nervous system",
    "Immune reconstitution inflammatory syndrome after natalizumab-associated PML",
    "Cognitive outcomes in relapsing-remitting multiple sclerosis treated with {drug}",
    "Optical coherence tomography in patients treated with natalizumab",
    "Natalizumab-associated herpes infections: a pharmacovigilance review",
]


def _article(rng: random.Random, index: int, relevant: bool) -> str:
    pmid = FIRST_PMID + index
    year = rng.randint(2008, 2018)
    design = rng.choice(DESIGNS)
    drug = rng.choice(SWITCH_DRUGS)
    pool = RELEVANT_TITLES if relevant else IRRELEVANT_TITLES
    title = pool[index % len(pool)].format(design=design, drug=drug)
    # Real searches return many papers on the same question; the setting keeps titles distinct.
    title = f"{title} ({rng.choice(SETTINGS)} experience, {index // len(pool) + 1})"
    n = rng.randint(20, 400)
    months = rng.choice([3, 6, 12])
    relapsed = rng.randint(5, 60)
    authors = "".join(
        f'<Author ValidYN="Y"><LastName>{escape(rng.choice(SURNAMES))}</LastName>'
        f"<ForeName>{rng.choice(INITIALS)}</ForeName><Initials>{rng.choice(INITIALS)}</Initials></Author>"
        for _ in range(rng.randint(2, 7))
    )
    sections = [
        (
            "BACKGROUND",
            "Illustrative demo record, not a real publication. "
            + (
                "Stopping natalizumab may be followed by a return of disease activity."
                if relevant
                else "Natalizumab is a monoclonal antibody against alpha-4 integrin."
            ),
        ),
        ("METHODS", f"We describe a {design} of {n} patients followed for {months} months."),
        (
            "RESULTS",
            (
                f"Relapses occurred in {relapsed}% of patients after the last infusion."
                if relevant
                else f"Outcomes were recorded in {n} patients."
            ),
        ),
        ("CONCLUSIONS", "These illustrative findings exist only to demonstrate reviewapp."),
    ]
    abstract = "".join(
        f'<AbstractText Label="{label}" NlmCategory="{label}">{escape(text)}</AbstractText>'
        for label, text in sections
    )
    mesh = (
        ["Natalizumab", "Multiple Sclerosis, Relapsing-Remitting"] if relevant else ["Natalizumab"]
    )
    mesh_xml = "".join(
        f'<MeshHeading><DescriptorName MajorTopicYN="N">{escape(m)}</DescriptorName></MeshHeading>'
        for m in mesh
    )
    return f"""<PubmedArticle>
<MedlineCitation Status="MEDLINE" Owner="NLM">
<PMID Version="1">{pmid}</PMID>
<Article PubModel="Print">
<Journal><JournalIssue CitedMedium="Internet"><Volume>{rng.randint(1, 30)}</Volume><Issue>{rng.randint(1, 12)}</Issue><PubDate><Year>{year}</Year></PubDate></JournalIssue><Title>{escape(rng.choice(JOURNALS))}</Title></Journal>
<ArticleTitle>{escape(title)}.</ArticleTitle>
<Pagination><MedlinePgn>{rng.randint(1, 900)}-{rng.randint(901, 999)}</MedlinePgn></Pagination>
<Abstract>{abstract}</Abstract>
<AuthorList CompleteYN="Y">{authors}</AuthorList>
<Language>eng</Language>
<PublicationTypeList><PublicationType UI="D016428">Journal Article</PublicationType></PublicationTypeList>
</Article>
<MeshHeadingList>{mesh_xml}</MeshHeadingList>
<KeywordList Owner="NOTNLM"><Keyword MajorTopicYN="N">natalizumab</Keyword><Keyword MajorTopicYN="N">demo</Keyword></KeywordList>
</MedlineCitation>
<PubmedData><ArticleIdList><ArticleId IdType="pubmed">{pmid}</ArticleId><ArticleId IdType="doi">10.5555/reviewapp-demo.{pmid}</ArticleId></ArticleIdList></PubmedData>
</PubmedArticle>
"""


def build() -> str:
    rng = random.Random(20190325)
    relevant = set(rng.sample(range(N_RECORDS), N_RELEVANT))
    articles = "".join(_article(rng, i, i in relevant) for i in range(N_RECORDS))
    return (
        '<?xml version="1.0" ?>\n'
        '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2024//EN" '
        '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">\n'
        f"<PubmedArticleSet>\n{articles}</PubmedArticleSet>\n"
    )


if __name__ == "__main__":
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(build(), encoding="utf-8")
    print(f"wrote {OUT}")
