"""The ServiceM8 connector library: everything the Lambda handlers delegate to.

Handlers in ``functions/`` parse their event and call into this package; every
outside dependency (HTTP transport, boto3 clients, clock) is passed in, so each
piece runs in tests without AWS.
"""
