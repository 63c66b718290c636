"""The ``upper`` transform."""


def transform(text: str) -> str:
    return text.upper()
