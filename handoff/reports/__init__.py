"""Reports and early warnings for supervisors: what the desk records for them (`starts`), the
summary queries (`summary`), the routes (`api`), CSV export (`csv_export`) and alerts (`alerts`)."""
