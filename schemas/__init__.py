"""The XSDs of the v1 documents (task, tasks, users, taskCategories, error), shipped as package data."""
