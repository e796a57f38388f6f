from django.db import models


class Measure(models.TextChoices):
    OR = "OR", "Odds ratio"
    RR = "RR", "Risk ratio"
    RD = "RD", "Risk difference"
    MD = "MD", "Mean difference"
    SMD = "SMD", "Standardised mean difference (Hedges' g)"
    PR = "PR", "Proportion (raw)"
    PLO = "PLO", "Proportion (logit)"
    PFT = "PFT", "Proportion (Freeman-Tukey)"
    COR = "COR", "Correlation (raw r)"
    ZCOR = "ZCOR", "Correlation (Fisher's z)"
    GEN = "GEN", "Generic inverse variance"


class Model(models.TextChoices):
    FIXED = "fixed", "Common (fixed) effect"
    RANDOM = "random", "Random effects"


class Method(models.TextChoices):
    DL = "DL", "DerSimonian-Laird"
    REML = "REML", "Restricted maximum likelihood"
    PM = "PM", "Paule-Mandel"
    ML = "ML", "Maximum likelihood"
    SJ = "SJ", "Sidik-Jonkman"
    HE = "HE", "Hedges"
    HS = "HS", "Hunter-Schmidt"
    MH = "MH", "Mantel-Haenszel"
    IV = "IV", "Inverse variance"
