"""Themes: the knowledge base's papers clustered into themes, the themes grouped into areas, labelled,
with trends and a map. `cluster` and `labels` do the work, `themeset` is what is saved (`themes.yaml`),
`build` puts a theme set together, `service` runs it on a knowledge base, `trends` and `map` show it."""
