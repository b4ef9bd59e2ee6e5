"""The control API Rankr invokes (functions/control): install links, connections and their binding."""
