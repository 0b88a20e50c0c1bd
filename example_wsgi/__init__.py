"""An example WSGI application for staticreload: a slow model, fast-changing views.

Run it with ``staticreload serve example_wsgi.app:application`` and edit a view.
"""
