"""The console's server-rendered dashboard: pages, forms for operators' actions, templates and
static files."""
