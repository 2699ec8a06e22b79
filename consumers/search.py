"""The one normalisation of names for search: what an agent types and what the cache holds
meet as the same key.

`search_key` is the only function that decides when two spellings are the same name: case
(`ß` = `ss`), accents (`é` = `e`), letters that are not an accented base letter (`ø` = `o`,
`æ` = `ae`, `ł` = `l`…), apostrophes of any kind or none (`O'Sullivan`, `O’Sullivan`, `OSullivan`),
hyphens, spaces and other punctuation (`Mary-Kate` = `Mary Kate` = `MaryKate`). The cache stores
the keys of each consumer's names (`OrderConsumer.first_key`, `last_key`, `name_key`), indexed,
and the search normalises the query with the same function, so SQLite and PostgreSQL agree.
"""

import unicodedata

# Letters NFKD does not take apart into a base letter and a mark, as people type them on a
# keyboard that lacks them.
_FOLDS = str.maketrans(
    {
        "ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ð": "d", "Ð": "d",
        "đ": "d", "Đ": "d", "ł": "l", "Ł": "l", "þ": "th", "Þ": "th", "ħ": "h", "Ħ": "h",
        "ı": "i", "ŋ": "ng", "Ŋ": "ng", "ĸ": "k",
        # Apostrophes that Unicode counts as letters (modifier letters): not part of a name's key.
        "ʼ": "", "ʻ": "", "ʽ": "", "ʹ": "", "ˈ": "",
    }
)  # fmt: skip

# The longest key the cache keeps: a name is at most 255 characters, and a folded letter may
# become two or three.
KEY_MAX_LENGTH = 255


def search_key(text: str) -> str:
    """Return the search key of a name or a query: lower-case letters and digits only."""
    text = unicodedata.normalize("NFKD", text.translate(_FOLDS))
    # casefold after the marks are gone: "ß" becomes "ss", "ﬁ" "fi".
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if c.isalnum() and not unicodedata.combining(c))


def name_keys(first_name: str, last_name: str) -> dict[str, str]:
    """Return the cache's search columns for a consumer's names."""
    first, last = search_key(first_name), search_key(last_name)
    return {
        "first_key": first[:KEY_MAX_LENGTH],
        "last_key": last[:KEY_MAX_LENGTH],
        "name_key": (first + last)[: 2 * KEY_MAX_LENGTH],
    }
