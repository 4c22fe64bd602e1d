"""The centre's roster: seats, teams (班组) with their leaders, shifts; config.toml's seats
merged with the store's (seats.py), bulk CSV import (csvfile.py), `ivr seats` / `ivr teams`."""

from ivr.roster.csvfile import COLUMNS, Import, apply, check
from ivr.roster.seats import Roster, load, read

__all__ = ["COLUMNS", "Import", "Roster", "apply", "check", "load", "read"]
