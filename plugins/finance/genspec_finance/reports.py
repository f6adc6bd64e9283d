"""A page of a company's annual report as the FinQA family of datasets stores it.

FinQA and ConvFinQA (which was built from FinQA's pages) keep the same three fields:
``pre_text`` and ``post_text``, lists of tokenised sentences around the page's table,
and ``table``, a list of rows of cells whose first row is the header. Both tasks pose
the page in one layout, so a model reads the same report the same way in either.
"""

from __future__ import annotations

from genspec.toolkit import concat, joined, table

report_page = concat(joined("pre_text", sep=" "), table("table"), joined("post_text", sep=" "))
"""The text before the table, the table as ``a | b`` lines, then the text after it."""
