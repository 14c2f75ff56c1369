"""Resident dashboard for Montgomery County (MD) traffic stops.

``queries`` is the only data access, ``charts`` builds figures (pure), ``filters`` keeps the shared
sidebar state in sync with the URL, ``ui`` holds the small Streamlit helpers the pages share.
"""
