"""StemDeck's HTTP gateway (FastAPI): uploads, job records, downloads, remixes, events."""
