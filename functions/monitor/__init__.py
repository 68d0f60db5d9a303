"""The Fargate monitor task."""
