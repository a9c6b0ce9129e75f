"""`litkb serve`: the knowledge base in a browser (Starlette, Jinja2 templates, uvicorn). `app.py` holds
the routes and the safety checks; the pages and the JSON API call the same `KnowledgeBase` as the CLI."""
