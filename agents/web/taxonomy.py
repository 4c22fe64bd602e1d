"""The console's taxonomy is the understanding step's: one CSV, one reader (ivr/understanding)."""

from ivr.understanding.taxonomy import DEFAULT_CSV, Category, Taxonomy, TaxonomyError, district_of, fill_unit

__all__ = ["DEFAULT_CSV", "Category", "Taxonomy", "TaxonomyError", "district_of", "fill_unit"]
