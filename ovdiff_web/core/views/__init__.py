"""Dashboard views (server-rendered, thin): each module serves one area of the UI."""
