"""Fake secrets in 26 common formats, for the redaction tests: (as written, the part
that must never be stored). None of them is real."""

from __future__ import annotations

SECRETS: dict[str, tuple[str, str]] = {
    "anthropic": (
        "sk-ant-api03-Zx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0dF-gH2jK4lZ",
        "sk-ant-api03-Zx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0dF-gH2jK4lZ",
    ),
    "openai_project": (
        "sk-proj-Ab3De5Gh7Jk9Mn1Pq3St5Vw7Yz9Bc1Df3Gh5",
        "sk-proj-Ab3De5Gh7Jk9Mn1Pq3St5Vw7Yz9Bc1Df3Gh5",
    ),
    "openai_legacy": (
        "sk-Ab3De5Gh7Jk9Mn1Pq3St5T3BlbkFJVw7Yz9Bc1Df3Gh5Jk7",
        "sk-Ab3De5Gh7Jk9Mn1Pq3St5T3BlbkFJVw7Yz9Bc1Df3Gh5Jk7",
    ),
    "github_classic": (
        "ghp_Zx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0dF2gH4",
        "ghp_Zx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0dF2gH4",
    ),
    "github_fine": (
        "github_pat_11ABCDEFG0aBcDeFgHiJkLmN_oPqRsTuVwXyZ0123456789abcdefghijKLMNOPQRSTUVWX",
        "github_pat_11ABCDEFG0aBcDeFgHiJkLmN_oPqRsTuVwXyZ0123456789abcdefghijKLMNOPQRSTUVWX",
    ),
    "github_oauth": ("gho_Zx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0dF2gH4", "gho_Zx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0dF2gH4"),
    "gitlab": ("glpat-Zx9kQ2vB7nM4pL8rT1wY", "glpat-Zx9kQ2vB7nM4pL8rT1wY"),
    "aws_access_key": ("AKIAZX9KQ2VB7NM4PL8R", "AKIAZX9KQ2VB7NM4PL8R"),
    "aws_secret": (
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzX9kQ2vB7n",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzX9kQ2vB7n",
    ),
    "stripe_live": ("sk_live_51Zx9kQ2vB7nM4pL8rT1wY6uE3o", "sk_live_51Zx9kQ2vB7nM4pL8rT1wY6uE3o"),
    "stripe_restricted": ("rk_live_51Zx9kQ2vB7nM4pL8rT1wY6uE3o", "rk_live_51Zx9kQ2vB7nM4pL8rT1wY6uE3o"),
    "google": ("AIzaSyZx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0dF", "AIzaSyZx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0dF"),
    "slack_bot": (
        "xoxb-1234567890123-1234567890123-Zx9kQ2vB7nM4pL8rT1wY6uE3",
        "xoxb-1234567890123-1234567890123-Zx9kQ2vB7nM4pL8rT1wY6uE3",
    ),
    "slack_user": (
        "xoxp-1234567890123-1234567890123-1234567890123-Zx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0d",
        "xoxp-1234567890123-1234567890123-1234567890123-Zx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0d",
    ),
    "jwt": (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJvcmNodHVpIiwibmFtZSI6InRlc3QifQ.Zx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0dF2gH4jK6lZ8c",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJvcmNodHVpIiwibmFtZSI6InRlc3QifQ.Zx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0dF2gH4jK6lZ8c",
    ),
    "pem": (
        (
            "-----BEGIN RSA PRIVATE KEY-----\n"
            "MIIEowIBAAKCAQEAzx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0dF2gH4jK6lZ8cXv\n"
            "Q2vB7nM4pL8rT1wY6uE3oI5aS0dF2gH4jK6lZ8cXvBn1Mm3\n"
            "-----END RSA PRIVATE KEY-----"
        ),
        "MIIEowIBAAKCAQEAzx9kQ2vB7nM4pL8rT1wY6uE3",
    ),
    "pem_openssh": (
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\n"
            "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQZx9kQ2vB7nM4pL8rT1wY6uE3\n"
            "-----END OPENSSH PRIVATE KEY-----"
        ),
        "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9u",
    ),
    "password_assign": ("password=Zx9kQ2vB7nM4pL8r", "Zx9kQ2vB7nM4pL8r"),
    "db_url": ("postgres://orch:Zx9kQ2vB7nM4pL8r@db.example.com:5432/app", "Zx9kQ2vB7nM4pL8r"),
    "npm": ("npm_Zx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0dF2gH4", "npm_Zx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0dF2gH4"),
    "pypi": (
        "pypi-AgEIcHlwaS5vcmcCJGZ4OWtRMnZCN25NNHBMOHJUMXdZNnVFM29JNWFTMGRGMmdINGpLNmxaOGNY",
        "pypi-AgEIcHlwaS5vcmcCJGZ4OWtRMnZCN25NNHBMOHJUMXdZNnVFM29JNWFTMGRGMmdINGpLNmxaOGNY",
    ),
    "sendgrid": (
        "SG.Zx9kQ2vB7nM4pL8rT1wY6u.E3oI5aS0dF2gH4jK6lZ8cXvBn1Mm3Qq5Ww7Ee9Rr1T",
        "SG.Zx9kQ2vB7nM4pL8rT1wY6u.E3oI5aS0dF2gH4jK6lZ8cXvBn1Mm3Qq5Ww7Ee9Rr1T",
    ),
    "twilio": ("SK0123456789abcdef0123456789abcdef", "SK0123456789abcdef0123456789abcdef"),
    "bearer": ("Authorization: Bearer Zx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0dF", "Zx9kQ2vB7nM4pL8rT1wY6uE3oI5aS0dF"),
    "api_key_env": ("OPENROUTER_API_KEY=Zx9kQ2vB7nM4pL8rT1wY6uE3", "Zx9kQ2vB7nM4pL8rT1wY6uE3"),
    "discord": (
        "MTA4NzY1NDMyMTA5ODc2NTQz.GZx9kQ.2vB7nM4pL8rT1wY6uE3oI5aS0dF2gH4jK6lZ8c",
        "MTA4NzY1NDMyMTA5ODc2NTQz.GZx9kQ.2vB7nM4pL8rT1wY6uE3oI5aS0dF2gH4jK6lZ8c",
    ),
}
