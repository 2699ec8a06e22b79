"""CSV files the back office hands out, made safe to open in a spreadsheet."""


def csv_cell(value: object) -> str:
    """Render a CSV cell, defusing text a spreadsheet would run as a formula (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
