"""Message catalogues of the web UI (Flask-Babel looks for them in this folder).

``zh_Hant/LC_MESSAGES/messages.po`` is the one edited by hand; ``build.py`` compiles it and
derives Simplified Chinese from it. English needs no catalogue: the msgids are English."""
