"""The ``reverse`` transform."""


def transform(text: str) -> str:
    return text[::-1]
