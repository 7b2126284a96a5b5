"""The console's HTTP JSON API: read endpoints, management endpoints and the OpenAPI document."""
