"""The search space, in the syntax of Hydra's Optuna sweeper, as Optuna distributions.

``params: {optimizer.lr: tag(log, interval(1e-4, 1e-1)), model.hidden_channels: choice(8, 16),
model: choice(gcn, gat)}``: each value is parsed by Hydra's own override grammar, so the
same words mean the same things as on the command line (``range``, ``interval``,
``choice``, ``tag(log, ...)``, or a plain comma list). A value without a sweep is fixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from gnnexp.errors import GnnexpError


@dataclass
class SearchSpace:
    """What each trial samples (``key -> optuna distribution``) and what every trial fixes."""

    distributions: dict[str, Any] = field(default_factory=dict)
    fixed: list[str] = field(default_factory=list)

    def overrides(self, params: dict[str, Any]) -> list[str]:
        """A trial's command-line overrides: the fixed ones, then its sampled values."""
        return [*self.fixed, *(f"{key}={_word(value)}" for key, value in params.items())]


TAGS = {"log"}  # the tags a search space reads: tag(log, ...) samples on a log scale


def _word(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _distribution(override: Any) -> Any:
    """One sweep override as an Optuna distribution."""
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    value = override.value()
    tags = set(getattr(value, "tags", set()))
    unknown = sorted(tags - TAGS)
    if unknown:
        raise GnnexpError(
            f"{override.input_line}: unknown tag {unknown[0]!r}.",
            f"the search reads the tag{'s' if len(TAGS) > 1 else ''} {', '.join(sorted(TAGS))}: tag(log, interval(0.0001, 0.1)).",
        )
    log = "log" in tags
    if isinstance(value, ChoiceSweep):
        choices = [c for c in override.sweep_iterator(transformer=lambda x: x)]
        return CategoricalDistribution(choices)
    if isinstance(value, RangeSweep):
        start, stop, step = value.start, value.stop, value.step
        if isinstance(start, int) and isinstance(stop, int) and isinstance(step, int) and not log:
            return IntDistribution(start, stop - 1, step=step)
        return CategoricalDistribution(list(override.sweep_iterator(transformer=lambda x: x)))
    if isinstance(value, IntervalSweep):
        low, high = value.start, value.end
        if not all(isinstance(b, (int, float)) and math.isfinite(b) for b in (low, high)):
            raise GnnexpError(
                f"{override.input_line}: an interval needs two finite numbers, not {low} and {high}.",
                "give both ends, e.g. interval(0.0001, 0.1).",
            )
        if isinstance(low, int) and isinstance(high, int):  # int(interval(8, 64)), as Hydra's sweeper
            return IntDistribution(low, high, log=log)
        if low is not None and high is not None:
            return FloatDistribution(float(low), float(high), log=log)
    raise GnnexpError(
        f"{override.input_line} is not a search space Optuna can sample.",
        "use choice(...), range(...), interval(...) or tag(log, interval(...)).",
    )


def parse_space(params: dict[str, str], arguments: list[str]) -> SearchSpace:
    """The space of the sweeper's ``params`` plus sweeps given on the command line
    (``model=gcn,gat`` becomes a choice); everything else on the command line is fixed. A
    key given on the command line replaces the same key in ``params``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import OverrideParseException

    parser = OverridesParser.create()
    space = SearchSpace()
    lines = [f"{key}={value}" for key, value in params.items()] + list(arguments)
    for line in lines:
        try:
            (override,) = parser.parse_overrides([line])
        except OverrideParseException as err:
            raise GnnexpError(
                f"Cannot read the search-space entry {line!r}: {err}.",
                "write it like tag(log, interval(0.0001, 0.1)) or choice(16, 32, 64).",
            ) from None
        key = override.get_key_element()
        space.distributions.pop(key, None)
        space.fixed = [f for f in space.fixed if parser.parse_overrides([f])[0].get_key_element() != key]
        if override.is_sweep_override():
            try:
                space.distributions[key] = _distribution(override)
            except ValueError as err:  # Optuna's own checks: low <= high, low > 0 for log, ...
                raise GnnexpError(
                    f"The search-space entry {line!r} is not a range Optuna can sample: {err}.",
                    "give the low end first, a positive low end for tag(log, ...), and a non-empty range.",
                ) from None
        else:
            space.fixed.append(line)
    return space
