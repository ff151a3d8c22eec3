"""``supervise diff``: what a configuration change would do, before it does it.

Both configurations are replayed over the same events (``sides``: ``streams.replay``
itself, over the input read once), and compared (``compare``): alerts added, removed,
re-levelled and re-timed by rule × department × level with sample cases and their
events, deadlines that move, department scores and ranks that change
(``streams.scoring``), and the configuration keys that differ (``configdiff``).
``render`` writes it for people (terminal, Markdown) and tools (JSON).
"""

from streams.diff.compare import Diff, compare
from streams.diff.sides import DEFAULT, Configuration, evaluate, event_briefs, load_side_config

__all__ = [
    "DEFAULT",
    "Configuration",
    "Diff",
    "compare",
    "evaluate",
    "event_briefs",
    "load_side_config",
]
