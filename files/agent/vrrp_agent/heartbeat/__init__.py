"""heartbeat v1 (ha.cf, haresources, authkeys) to agent configuration.

`files.py` parses the three files (FILE:LINE errors), `convert.py` maps them
to the agent's keepalived.conf syntax; docs/heartbeat.md explains the choices.
"""
