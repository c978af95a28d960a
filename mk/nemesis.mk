# Reliability under mixed faults and floods (issue 15); figures in docs/reliability.md.
# `make flood`: 10 s at 10,000 pkt/s of foreign protocol-112 traffic, agent vs keepalived
# (FLOOD_ARGS='--before COMMIT' adds the agent of COMMIT).
.PHONY: flood

flood: venv
	PYTHONPATH=$(AGENT) $(PY) bench/flood.py --write docs/reliability.md $(FLOOD_ARGS)
