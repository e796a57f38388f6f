from django.db import models

from reviewapp.grade import proposals as p


class Design(models.TextChoices):
    """Where certainty starts (GRADE 3): randomised trials High, observational studies Low."""

    RANDOMISED = p.RANDOMISED, "Randomised trials (start High)"
    OBSERVATIONAL = p.OBSERVATIONAL, "Observational studies (start Low)"


class Domain(models.TextChoices):
    RISK_OF_BIAS = p.RISK_OF_BIAS, p.DOMAIN_NAMES[p.RISK_OF_BIAS]
    INCONSISTENCY = p.INCONSISTENCY, p.DOMAIN_NAMES[p.INCONSISTENCY]
    INDIRECTNESS = p.INDIRECTNESS, p.DOMAIN_NAMES[p.INDIRECTNESS]
    IMPRECISION = p.IMPRECISION, p.DOMAIN_NAMES[p.IMPRECISION]
    PUBLICATION_BIAS = p.PUBLICATION_BIAS, p.DOMAIN_NAMES[p.PUBLICATION_BIAS]
    LARGE_EFFECT = p.LARGE_EFFECT, p.DOMAIN_NAMES[p.LARGE_EFFECT]
    DOSE_RESPONSE = p.DOSE_RESPONSE, p.DOMAIN_NAMES[p.DOSE_RESPONSE]
    CONFOUNDING = p.CONFOUNDING, p.DOMAIN_NAMES[p.CONFOUNDING]


class RatioKind(models.TextChoices):
    """What a generic (inverse-variance) ratio is, for its absolute effect per 1,000."""

    RR = "RR", "Risk ratio"
    OR = "OR", "Odds ratio"


def levels_of(domain: str) -> dict[str, str]:
    """The judgements a domain allows, with their names."""
    return p.DOWNGRADE_LEVELS if domain in p.DOWNGRADING else p.UPGRADE_LEVELS
