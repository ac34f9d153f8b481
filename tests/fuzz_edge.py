"""A fuzzing run of the edge, beyond the property tests' budget: prints how many inputs
were tried and what became of them.

    .venv/bin/python -m tests.fuzz_edge --cases 20000

Each case is a valid order, settings and plan with one to three values replaced,
deleted or added in one or all of them (the property tests' `mutated`), or arbitrary
JSON. Outcomes:
- refused: `InvalidJourney` with problem lines, as it should be;
- accepted: validation passed and every moment and message of the journey computed;
- escaped: anything else was raised while validating (a traceback for the user);
- unrunnable: accepted, but computing the journey's moments or messages raised (a
  journey that would fail days later).
Exit code 1 when any case escaped or was unrunnable; the first example of each kind
is printed. Hypothesis draws the cases afresh on each run.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from intake import InvalidJourney, shared_renderer, validate_journey
from tests import builders
from tests.unit.test_edge_properties import (
    NOW,
    PLAN,
    computes_to_the_end,
    full_settings,
    json_values,
    mutated,
)

cases = st.one_of(
    st.tuples(mutated(builders.order()), st.just(full_settings()), st.just(PLAN)),
    st.tuples(st.just(builders.order()), mutated(full_settings()), st.just(PLAN)),
    st.tuples(st.just(builders.order()), st.just(full_settings()), mutated(PLAN)),
    st.tuples(mutated(builders.order()), mutated(full_settings()), mutated(PLAN)),
    st.tuples(json_values, json_values, json_values),
)


def outcome(order: Any, store: Any, plan: Any) -> tuple[str, str]:
    renderer = shared_renderer()
    try:
        checked = validate_journey(order, store, plan, now=NOW, renderer=renderer)
    except InvalidJourney:
        return "refused", ""
    except Exception as err:
        return "escaped", f"{type(err).__name__}: {err}"
    try:
        computes_to_the_end(checked, renderer)
    except Exception as err:
        return "unrunnable", f"{type(err).__name__}: {err}"
    return "accepted", ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20_000)
    args = parser.parse_args(argv)
    counts: Counter[str] = Counter()
    first: dict[str, str] = {}

    @settings(
        max_examples=args.cases,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def record(case: tuple[Any, Any, Any]) -> None:
        verdict, detail = outcome(*case)
        counts[verdict] += 1
        if detail and verdict not in first:
            first[verdict] = detail[:300]

    record()
    tried = sum(counts.values())
    print(f"{tried} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for verdict, detail in first.items():
        print(f"first {verdict}: {detail}")
    return 1 if counts["escaped"] or counts["unrunnable"] else 0


if __name__ == "__main__":
    sys.exit(main())
