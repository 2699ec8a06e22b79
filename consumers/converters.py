"""URL converters: a page's ref is refused (a 404) before a view, or CDP, sees it."""

from cdp.links import is_valid_ref


class RefConverter:
    """One path segment that `cdp.links.is_valid_ref` accepts: never "." or ".."."""

    # The segment's decoded text: %2e%2e arrives here as "..", so to_python sees it.
    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        if not is_valid_ref(value):
            raise ValueError(f"{value!r} is not a CDP ref")
        return value

    def to_url(self, value: str) -> str:
        return value
