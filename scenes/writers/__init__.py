"""Writers: storyboards to files. ``video`` (videos, PNG stills, ``.srt``), ``svg`` (one vector
diagram per step), ``publish`` (web-ready video files, ``embed`` snippets, the gallery page)."""
