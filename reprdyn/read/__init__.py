"""Read: everything that reads a finished store — the lazy cube reader, `query`, `--sel`
selection, the run summary, the report, `verify` and the catalog (`ls`)."""
