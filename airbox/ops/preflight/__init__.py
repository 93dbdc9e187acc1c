"""Preflight: is this machine ready for a data plane, and if not, what exactly to do.

``facts`` gathers what is looked at, ``checks`` judges it, ``report`` holds and renders
the outcome, ``command`` runs it for ``airbox preflight`` and the install's first step.
"""
