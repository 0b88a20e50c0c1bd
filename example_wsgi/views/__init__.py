"""The example's views: one module per page, each a function of the WSGI environ."""
