"""The Sensu Go API dialect: bodies, merge patches, ETags, paging and selectors."""
