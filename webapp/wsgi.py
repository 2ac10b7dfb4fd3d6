"""The WSGI entry point. In production and the demo, gunicorn serves it:

uv run gunicorn -c webapp/gunicorn_conf.py webapp.wsgi
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
application = get_wsgi_application()
