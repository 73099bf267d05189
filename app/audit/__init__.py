"""The audit trail on the web, for those who read it (inspector, chief)."""
