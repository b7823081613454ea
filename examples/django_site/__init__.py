"""A small Django project behind consentgate: a template-rendered page and the admin.

From the repository's root::

    python examples/django_site/manage.py migrate
    python examples/django_site/manage.py createsuperuser
    uvicorn examples.django_site.asgi:application
"""
