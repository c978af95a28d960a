"""vrrp_agent: a VRRP (RFC 3768 / RFC 5798) failover agent, wire-compatible with keepalived."""

__version__ = "0.1.0"
