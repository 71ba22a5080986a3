"""Where scenario fillings come from: a lexicon (offline), a table of filled rows, or an LLM writer."""

from proceval.scenarios.lexicon import lexicon_scenarios, load_lexicon
from proceval.scenarios.table import split_sentences, table_scenarios

__all__ = ["lexicon_scenarios", "load_lexicon", "split_sentences", "table_scenarios"]
