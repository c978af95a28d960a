# `make molecule-routed`: the routed scenario (vrrp_announce bgp, docs/bgp.md) on
# three --internal podman networks (198.51.100.0/26, .64/26, .128/26: held like
# any lab subnet, tests/ansible/podlab.py) joined by an FRR router container.
# Run by `make test` after the other scenarios (about 3 minutes).
.PHONY: molecule-routed

molecule-routed: venv collections
	@command -v podman >/dev/null || { echo "molecule-routed: podman is missing: apt-get install podman runc debootstrap"; exit 2; }
	@set -e; s=routed; prefix=vm$$$$$$s; net=$$prefix-net; image=$$(tools/lab-images/build.sh bookworm); \
	  clean="$(PY) tests/ansible/podlab.py remove-network $$net-a; $(PY) tests/ansible/podlab.py remove-network $$net-b; $(PY) tests/ansible/podlab.py remove-network $$net-c"; \
	  trap "$$clean >/dev/null 2>&1" EXIT; \
	  $(PY) tests/ansible/podlab.py create-network $$net-a $$$$ 198.51.100.0/26; \
	  $(PY) tests/ansible/podlab.py create-network $$net-b $$$$ 198.51.100.64/26; \
	  $(PY) tests/ansible/podlab.py create-network $$net-c $$$$ 198.51.100.128/26; \
	  echo "== molecule test -s $$s ($$image on $$net-a/b/c)"; \
	  export VRRP_LAB_IMAGE=$$image VRRP_LAB_NET=$$net VRRP_LAB_PREFIX=$$prefix PATH=$(CURDIR)/$(VENV)/bin:$$PATH; \
	  $(VENV)/bin/molecule reset -s $$s >/dev/null 2>&1 || true; \
	  $(VENV)/bin/molecule test -s $$s

TEST_TARGETS += molecule-routed
