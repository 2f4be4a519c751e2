"""What every scene shares: the storyboard base class and options (``storyboard``), layout helpers
(``layouts``), nouns (``mobjects``) and verbs (``animations``), provenance marks
(``provenance``), sizes (``style``), text (``text``) and colours (``theme``)."""
