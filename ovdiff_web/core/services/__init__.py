"""Service layer: the logic behind the API and the tasks (views and tasks stay thin)."""
