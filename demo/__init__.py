"""The embedded default, end to end (`python3 dev.py run`): the dev server with its Web
UI, a worker, and one demo order whose journey runs a day a second."""
