"""Settings of the guide's Django pet clinic ("Using Aurora DSQL to build an application with Django"),
with the cluster taken from the environment (tests/orm/conftest.py Endpoint.env):
DSQL_ENDPOINT (the cluster's DNS name), AWS_REGION, and optionally DSQL_PORT, DSQL_SSLROOTCERT and
DSQL_HOSTADDR (where libpq really connects; the name still serves the token and TLS verification).
"""
import os

SECRET_KEY = "pet-clinic-test-only"
DEBUG = False
ALLOWED_HOSTS = ['*']
ROOT_URLCONF = "project.urls"
USE_TZ = True

INSTALLED_APPS = ['pet_clinic']  # Make sure that you have the pet_clinic app defined here.
MIDDLEWARE = []
TEMPLATES = [
    {
        'BACKEND': 'django.template.backends.django.DjangoTemplates',
        'DIRS': [],
        'APP_DIRS': True,
        'OPTIONS': {
            'context_processors': [
                'django.template.context_processors.debug',
                'django.template.context_processors.request',
            ],
        },
    },
]

_options = {
    'sslmode': 'verify-full',
    'sslrootcert': os.environ.get('DSQL_SSLROOTCERT', 'system'),
    'region': os.environ['AWS_REGION'],
}
if os.environ.get('DSQL_HOSTADDR'):
    _options['hostaddr'] = os.environ['DSQL_HOSTADDR']

DATABASES = {
    'default': {
        # Provide the endpoint of the cluster
        'HOST': os.environ['DSQL_ENDPOINT'],
        'PORT': os.environ.get('DSQL_PORT', '5432'),
        'USER': 'admin',
        'NAME': 'postgres',
        'ENGINE': 'aurora_dsql_django',  # This is the custom database adapter for Aurora DSQL
        'OPTIONS': _options,
    }
}
