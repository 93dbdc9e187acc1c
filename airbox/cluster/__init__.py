"""The tools airbox drives (kind, helm, kubectl as processes; Docker through its SDK)."""
