"""The `import` channel: CSV and XLSX files of responses, customers or purchases.

A file is uploaded into the database (so any worker can read it), its columns are mapped,
every row is checked in a dry run, and after confirmation a Celery task imports it in chunks:
each chunk commits its rows, its row problems, the job's checkpoint and one outbox event
together, so a worker killed mid-file resumes where the last chunk ended.
"""
