"""What airbox hands to Kubernetes, Helm and kind, and the check of the rendered chart."""
