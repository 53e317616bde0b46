"""Floor 4: HTTP and HTML - app factory, routers, map pages, tiles, static assets."""
