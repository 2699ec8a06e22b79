"""What every app uses and that imports no app of ours: JSON logging with redaction, the client's
address behind proxies, CSV cells safe for spreadsheets, and bounded request bodies."""
