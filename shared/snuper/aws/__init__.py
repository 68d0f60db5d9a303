"""The glue the cloud handlers share (design.md §2, §6): observability, secrets -> database URI,
event validation, settings from the environment, and the jobs the handlers run.

Nothing here is imported by the CLI; each module keeps its heavy imports (boto3, the sinks'
drivers, Playwright) inside the functions that need them, so a handler module imports fast."""
