"""Policies: liquid cells, wirings, baselines. See policies/base.py for the interface."""
