"""Online sources: papers fetched from the services that publish them (the Hugging Face Daily Papers API,
arXiv, Crossref), over one HTTP layer (`http.py`) with a response cache in the knowledge base. Only
`litkb fetch` and `litkb enrich` use the network; searching never does."""
