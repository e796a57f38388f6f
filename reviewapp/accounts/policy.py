"""Who may create an account: pure rules, read from settings by the adapter."""

from __future__ import annotations


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower()


def domain_allowed(email: str, domains: list[str]) -> bool:
    """Whether an address is at one of `domains` or a subdomain of one (med.uni.edu for uni.edu)."""
    domain = email_domain(email)
    return any(domain == d or domain.endswith("." + d) for d in domains)
