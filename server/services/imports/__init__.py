"""File imports: readers that stream a file into the row dicts the upload services take, and
the importer that validates and writes them all-or-nothing (one transaction per file)."""
