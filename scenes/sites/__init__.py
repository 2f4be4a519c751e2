"""Site generators: embedding the figures of ``build`` in pages MkDocs and Sphinx make."""
