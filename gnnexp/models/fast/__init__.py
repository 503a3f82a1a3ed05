"""The exact fast paths: data layouts and layers that compute what the plain PyG path computes."""
