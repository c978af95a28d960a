# Molecule scenarios on podman systemd containers (run by `make test`).
# The images are built locally (tools/lab-images); the --internal network is
# created here (the podman driver cannot make an internal one) and removed,
# with every container, whether the scenario passes or fails. A lab left behind
# by a killed run is removed first; a live one is waited for (podlab.py), and
# molecule's own state from a killed run is reset.
# scenario:Debian suite (both Debian 12 and 13 are covered)
MOLECULE_SCENARIOS ?= default:bookworm unicast:trixie keepalived_interop:bookworm heartbeat_resources:bookworm nofailback_ipv6:bookworm rolling_upgrade:bookworm
.PHONY: molecule

molecule: venv collections
	@command -v podman >/dev/null || { echo "molecule: podman is missing: apt-get install podman runc debootstrap"; exit 2; }
	@set -e; for entry in $(MOLECULE_SCENARIOS); do \
	  s=$${entry%%:*}; suite=$${entry##*:}; \
	  prefix=vm$$$$$$s; net=$$prefix-net; image=$$(tools/lab-images/build.sh $$suite); \
	  $(PY) tests/ansible/podlab.py create-network $$net $$$$; \
	  clean="$(PY) tests/ansible/podlab.py remove-network $$net"; \
	  trap "$$clean >/dev/null 2>&1" EXIT; \
	  echo "== molecule test -s $$s ($$image on $$net)"; \
	  export VRRP_LAB_IMAGE=$$image VRRP_LAB_NET=$$net VRRP_LAB_PREFIX=$$prefix PATH=$(CURDIR)/$(VENV)/bin:$$PATH; \
	  $(VENV)/bin/molecule reset -s $$s >/dev/null 2>&1 || true; \
	  $(VENV)/bin/molecule test -s $$s; \
	  eval "$$clean" >/dev/null 2>&1 || true; \
	done

TEST_TARGETS += molecule
