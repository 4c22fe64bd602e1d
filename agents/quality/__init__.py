"""Quality checks (质检) after the call: sampling calls into the review queue, scoring them
against the centre's checklist, operators' appeals, and the figures per operator and team."""

from agents.quality.desk import QualityDesk, QualityError
from agents.quality.figures import by_team, to_csv
from agents.quality.sampling import Sampler, day_start, pick

__all__ = ["QualityDesk", "QualityError", "Sampler", "by_team", "day_start", "pick", "to_csv"]
