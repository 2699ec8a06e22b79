"""A local simulator of Sitecore CDP's REST API v2 for `make run` and the tests."""
