"""Reading Prometheus text as a scraper would, for the metrics tests."""

from __future__ import annotations

import re

SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of the metric `name`, with its labels."""
    found = []
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and match["name"] == name:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match["labels"] or ""))
            found.append((labels, float(match["value"])))
    return found


def total(text: str, name: str, **wanted: str) -> float:
    """The sum of the metric's samples whose labels include `wanted`."""
    return sum(
        value
        for labels, value in samples(text, name)
        if all(labels.get(k) == v for k, v in wanted.items())
    )
