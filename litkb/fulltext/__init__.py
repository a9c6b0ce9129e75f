"""Full text: the files attached to records (PDFs), their extracted text, and what the index reads of it."""
