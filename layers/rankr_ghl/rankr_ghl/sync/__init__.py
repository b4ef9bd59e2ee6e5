"""Pure sync logic: field mapping, canonical forms, diff, conflict rules and echo suppression.

Never imports boto3 or httpx; the stores it needs are Protocols in `rankr_ghl.sync.ports`.
"""
