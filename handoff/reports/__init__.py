"""Reports and early warnings for supervisors: the summary queries (`summary`), CSV export
(`csv_export`), early warnings (`alerts`) and their Redis keys (`keys`). The routes are in
handoff/web/reports.py; the conversation starts they count are recorded by handoff/work/starts.py."""
