# Reliability under mixed faults and floods (issue 15); figures in docs/reliability.md.
# `make flood`: 10 s at 10,000 pkt/s of foreign protocol-112 traffic, agent vs keepalived
# (FLOOD_ARGS='--before COMMIT' adds the agent of COMMIT).
.PHONY: flood

flood: venv
	PYTHONPATH=$(AGENT) $(PY) bench/flood.py --write docs/reliability.md $(FLOOD_ARGS)

# `make nemesis`: NEMESIS_MINUTES (default 30) of seeded, overlapping faults on mixed
# clusters and on all-keepalived ones under the same schedules; table in docs/reliability.md.
# Replay one round: .venv/bin/python bench/nemesis.py --seed SEED --spec K
NEMESIS_MINUTES ?= 30
.PHONY: nemesis

nemesis: venv
	PYTHONPATH=$(AGENT) $(PY) bench/nemesis.py --minutes $(NEMESIS_MINUTES) \
		--write docs/reliability.md --json /tmp/vrrp-nemesis-$(shell id -u).json $(NEMESIS_ARGS)

# `make control-fuzz`: advert gaps while hostile clients hit the control socket.
.PHONY: control-fuzz

control-fuzz: venv
	PYTHONPATH=$(AGENT) $(PY) bench/control_fuzz.py --write docs/reliability.md
