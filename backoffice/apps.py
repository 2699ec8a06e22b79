from django.contrib.admin.apps import AdminConfig


class BackofficeAdminConfig(AdminConfig):
    """Install the Django admin with the site that admits only the Administrator role."""

    default_site = "backoffice.admin.BackofficeAdminSite"
